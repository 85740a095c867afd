"""Alembic environment: always online, on the engine handed in by wasmhub.db.migrate."""

from __future__ import annotations

from alembic import context

from wasmhub.db.base import Base
from wasmhub.db.models import import_all_models

import_all_models()
engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    context.run_migrations()
