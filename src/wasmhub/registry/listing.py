"""Read-only listings of the registry: tags, repositories (``_catalog``) and referrers.

Listings are sorted in byte order (the spec's "lexical" order) on both backends, which
on PostgreSQL means comparing under the "C" collation; pages are cut with ``n`` and
``last`` and report whether more follow, for the ``Link`` header.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from wasmhub.authz.access import NOTHING_PRIVATE, ReadScope
from wasmhub.hub import Hub
from wasmhub.oci.digest import Digest
from wasmhub.oci.errors import NameUnknown
from wasmhub.oci.manifest import Descriptor
from wasmhub.oci.names import validate_name
from wasmhub.registry.models import Manifest, Repository, Tag
from wasmhub.registry.records import Page, Referrers


class RegistryListing:
    def __init__(self, hub: Hub) -> None:
        self.db = hub.database

    def _bytewise(self, column: Any) -> ColumnElement[Any]:
        return column if self.db.is_sqlite else column.collate("C")  # type: ignore[no-any-return]

    def tags_page(self, repository: str, n: int | None = None, last: str | None = None) -> Page:
        """Tags of ``repository`` after ``last``, at most ``n``; raises NameUnknown."""
        validate_name(repository)
        with self.db.session() as session:
            repo_id = session.scalar(select(Repository.id).where(Repository.name == repository))
            if repo_id is None:
                raise NameUnknown(detail={"name": repository})
            name = self._bytewise(Tag.name)
            query = select(Tag.name).where(Tag.repository_id == repo_id).order_by(name)
            if last:
                query = query.where(name > last)
            if n is not None:
                query = query.limit(n + 1)
            items = list(session.scalars(query))
        return _page(items, n)

    def repositories_page(self, n: int | None = None, last: str | None = None,
                          visible: ReadScope | None = None) -> Page:
        """Repository names in byte order; ``visible`` (None: public ones only) says
        which private ones the caller may see."""
        name = self._bytewise(Repository.name)
        query = select(Repository.name).where(
            (visible or NOTHING_PRIVATE).repository_condition(Repository.name)
        ).order_by(name)
        if last:
            query = query.where(name > last)
        if n is not None:
            query = query.limit(n + 1)
        with self.db.session() as session:
            items = list(session.scalars(query))
        return _page(items, n)

    def referrers(self, repository: str, digest: str,
                  artifact_type: str | None = None) -> Referrers:
        """Manifests in ``repository`` whose subject is ``digest`` (an empty list if none)."""
        validate_name(repository)
        Digest.parse(digest)
        query = (
            select(Manifest.media_type, Manifest.digest, Manifest.size, Manifest.artifact_type,
                   Manifest.annotations)
            .join(Repository, Repository.id == Manifest.repository_id)
            .where(Repository.name == repository, Manifest.subject_digest == digest)
            .order_by(Manifest.digest)
        )
        if artifact_type:
            query = query.where(Manifest.artifact_type == artifact_type)
        with self.db.session() as session:
            rows = session.execute(query).all()
        descriptors = [
            Descriptor(media_type=r[0], digest=r[1], size=r[2], artifact_type=r[3],
                       annotations=dict(r[4] or {}))
            for r in rows
        ]
        return Referrers(descriptors, artifact_type or None)


def _page(items: list[str], n: int | None) -> Page:
    if n is not None and len(items) > n:
        return Page(items[:n], True)
    return Page(items, False)
