"""Run Alembic migrations programmatically (``wasmhub db upgrade`` and ``serve``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from wasmhub.db.engine import Database
from wasmhub.db.locks import advisory_key

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when already there.

    Replicas starting together (or a migration Job beside them) take turns: on
    PostgreSQL a session advisory lock is held while migrating, so the second one finds
    the schema current instead of creating the same tables again.
    """
    if database.engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(database), revision)
        return
    key = advisory_key("wasmhub:migrate")
    with database.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            command.upgrade(alembic_config(database), revision)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
