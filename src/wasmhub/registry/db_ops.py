"""Database statements the registry service shares: dialect-aware upserts and lookups.

Each write uses ``INSERT … ON CONFLICT`` so concurrent pushes (other threads, other
worker processes) never race a read-then-insert. On SQLite the first statement of a
write transaction is always a write, which takes the lock at once and lets
``busy_timeout`` queue writers instead of failing with "database is locked".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wasmhub.registry.models import Manifest, Repository, RepositoryBlob, Tag


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


@dataclass(frozen=True)
class ManifestLookup:
    """One manifest lookup (by tag or by digest, with or without the payload) as a Core
    statement with ``:repository`` and ``:reference`` parameters, plus the same statement
    compiled once for SQLite's driver (``sql`` with ``?`` in ``order``)."""

    statement: Select[Any]
    sql: str
    order: tuple[str, ...]

    @classmethod
    def build(cls, by_tag: bool, with_payload: bool) -> ManifestLookup:
        columns: list[Any] = [Manifest.digest, Manifest.media_type, Manifest.size]
        if with_payload:
            columns.append(Manifest.payload)
        if by_tag:
            # From the tag's primary key (repository_id, name): one index probe per table
            # (joining from manifests lets SQLite scan the repository's manifests).
            statement = (
                select(*columns).select_from(Tag)
                .join(Repository, Repository.id == Tag.repository_id)
                .join(Manifest, Manifest.id == Tag.manifest_id)
                .where(Repository.name == bindparam("repository"),
                       Tag.name == bindparam("reference"))
            )
        else:
            statement = (
                select(*columns).select_from(Manifest)
                .join(Repository, Repository.id == Manifest.repository_id)
                .where(Repository.name == bindparam("repository"),
                       Manifest.digest == bindparam("reference"))
            )
        compiled = statement.compile(dialect=sqlite.dialect())
        return cls(statement, str(compiled), tuple(compiled.positiontup or ()))

    def params(self, repository: str, reference: str) -> dict[str, str]:
        return {"repository": repository, "reference": reference}

    def positional(self, repository: str, reference: str) -> tuple[str, ...]:
        values = self.params(repository, reference)
        return tuple(values[name] for name in self.order)


MANIFEST_LOOKUPS = {
    (by_tag, with_payload): ManifestLookup.build(by_tag, with_payload)
    for by_tag in (True, False) for with_payload in (True, False)
}


def tag_digest(session: Session, repository: str, tag: str, *, lock: bool = False) -> str | None:
    """The digest ``repository:tag`` points at now (None: no such tag).

    ``lock``: hold the tag's row until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite's write transaction serialises everything anyway), so whoever re-points the
    tag waits: the catalog uses it to record a version only while the tag is still on it.
    """
    statement = (
        select(Manifest.digest).select_from(Tag)
        .join(Repository, Repository.id == Tag.repository_id)
        .join(Manifest, Manifest.id == Tag.manifest_id)
        .where(Repository.name == repository, Tag.name == tag)
    )
    if lock:
        statement = statement.with_for_update(of=Tag)
    return session.scalar(statement)
