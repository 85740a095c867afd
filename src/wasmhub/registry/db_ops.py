"""Database statements the registry service shares: dialect-aware upserts and lookups.

Each write uses ``INSERT … ON CONFLICT`` so concurrent pushes (other threads, other
worker processes) never race a read-then-insert. On SQLite the first statement of a
write transaction is always a write, which takes the lock at once and lets
``busy_timeout`` queue writers instead of failing with "database is locked".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wasmhub.registry.models import Repository, RepositoryBlob


def insert_for(session: Session, table: Any) -> Any:
    """An ``INSERT`` construct with ``on_conflict_*`` for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def ensure_repository(session: Session, name: str) -> int:
    session.execute(
        insert_for(session, Repository).values(name=name).on_conflict_do_nothing(
            index_elements=["name"]
        )
    )
    repo_id = session.scalar(select(Repository.id).where(Repository.name == name))
    assert repo_id is not None  # inserted or already there, in this transaction
    return repo_id


def repository_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Repository.id).where(Repository.name == name))


def linked_blob_query(repository: str, digests: list[str]) -> Select[str]:
    return (
        select(RepositoryBlob.digest)
        .join(Repository, Repository.id == RepositoryBlob.repository_id)
        .where(Repository.name == repository, RepositoryBlob.digest.in_(digests))
    )
