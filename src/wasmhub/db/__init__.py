"""Metadata database: SQLAlchemy 2 models, engines, sessions and Alembic migrations.

SQLite (a file in the data directory) is the embedded default; PostgreSQL is chosen by
``database_url``. Each domain keeps its models in its own package (``registry.models``,
``catalog.models``) on the shared :class:`Base`; migrations live in ``db/migrations``.
"""

from __future__ import annotations

from wasmhub.db.base import Base
from wasmhub.db.engine import Database

__all__ = ["Base", "Database"]
