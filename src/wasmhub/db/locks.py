"""Cross-replica locks held by a database transaction until it ends.

Every worker process and every replica shares the database, so it is where they take
turns: on PostgreSQL a transaction-level advisory lock keyed by a name (released at
commit or rollback, also when the connection dies with its replica); on SQLite, which
lets one writer in at a time, the write lock taken at once, so the transaction's reads
and writes happen as one step instead of failing when another writer went first.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock space)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_name(session: Session, name: str) -> None:
    """Wait until no other transaction holds ``name``; hold it until this one ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})
    elif dialect == "sqlite":
        # A write statement takes SQLite's write lock (waiting up to the busy timeout)
        # even when it changes no row; the transaction then holds it until it ends.
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))
