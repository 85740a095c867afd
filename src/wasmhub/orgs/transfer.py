"""Transfer of a plugin between namespaces: ``src_ns/name`` becomes ``dst_ns/name``.

The caller must hold :attr:`Permission.NAMESPACE_TRANSFER` (owners, site admins,
organization tokens with the admin scope) on BOTH namespaces, checked with the one
:meth:`AccessService.require`. Everything that names the repository moves in ONE
database transaction, all or nothing:

- registry: the ``registry_repositories`` row is renamed, so its tags, manifests (with
  their references), blob links and open upload sessions, all keyed by the row's id,
  follow it. Blobs are content-addressed in the store and need no copy.
- catalog: the plugin row (namespace, name, repository, search text) with its versions,
  stars, download counts, deprecations and yanks (keyed by the plugin's id).
- identity: the repository's policy (private, immutable tags) goes with it, merged with a
  policy already set on the destination name by keeping the stricter value. Team grants
  naming the old repository are removed (they belong to the old namespace's teams); API
  tokens limited to the old name keep that name, so they stop applying (a token is a
  credential for names, not for a plugin that moved away).
- signing: the index of verified signatures under the old name is dropped. Cosign
  signatures embed the old repository as their ``docker-reference``, so they no longer
  verify for the new name: after the commit the index is recomputed under the new name
  (with the destination namespace's keys), which makes the catalog's signed badge honest.
  Re-sign the moved versions to get it back.

The transfer is written to the audit log of both namespaces (``transfer``, with from/to)
in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wasmhub.accounts.service import check_username
from wasmhub.authz.access import namespace_of
from wasmhub.authz.audit import AuditAction, AuditLog
from wasmhub.authz.models import RepositoryPolicy
from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.catalog.models import CatalogPlugin, CatalogVersion
from wasmhub.catalog.search import sync_plugin_text
from wasmhub.errors import ConflictError, InputError, NotFoundError
from wasmhub.oci.names import is_valid_name
from wasmhub.orgs.models import Namespace, TeamGrant
from wasmhub.registry.models import Repository, Tag
from wasmhub.signing.models import VerifiedSignatureRow

if TYPE_CHECKING:
    from wasmhub.hub import Hub

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferResult:
    source: str
    destination: str
    tags: int
    versions: int
    signatures_dropped: int  # index rows of the old name (the signatures must be re-made)


def _names(source: str, to_namespace: str) -> tuple[str, str, str]:
    """(source namespace, destination namespace, destination repository); InputError."""
    if not is_valid_name(source) or "/" not in source:
        raise InputError(f"{source!r} is not a namespaced repository name (ns/name)")
    try:
        dst_ns = check_username(to_namespace)
    except InputError as exc:
        raise InputError(f"{to_namespace!r} is not a namespace name: {exc.message}") from exc
    src_ns, name = source.split("/", 1)
    if dst_ns == src_ns:
        raise InputError(f"{source} is already in the namespace {dst_ns}")
    destination = f"{dst_ns}/{name}"
    if not is_valid_name(destination):
        raise InputError(f"{destination!r} is not a valid repository name")
    return src_ns, dst_ns, destination


class TransferService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = hub.database

    @property
    def audit(self) -> AuditLog:
        return self.hub.identity.audit

    def transfer(self, principal: Principal, source: str, to_namespace: str) -> TransferResult:
        _, dst_ns, destination = _names(source, to_namespace)
        access = self.hub.identity.access
        # Source first, as a repository: who may not read it gets 404, like everywhere.
        access.require(principal, Permission.NAMESPACE_TRANSFER, repository=source,
                       what=f"plugin {source}")
        access.require(principal, Permission.NAMESPACE_TRANSFER, namespace=dst_ns,
                       what=f"namespace {dst_ns}")
        try:
            with self.db.session() as session:
                result = self._move(session, principal, source, destination)
        except IntegrityError as exc:  # PostgreSQL: a racing transfer or push took the name
            raise ConflictError(f"{destination} already exists; delete or rename it first"
                                ) from exc
        self._reindex_signatures(destination)
        return result

    def _move(self, session: Session, principal: Principal, source: str, destination: str
              ) -> TransferResult:
        src_ns, dst_ns = namespace_of(source), namespace_of(destination)
        # A write first: on SQLite it takes the database's write lock before any read.
        session.execute(update(Repository).where(Repository.name == source)
                        .values(name=Repository.name))
        repo = session.scalar(select(Repository).where(Repository.name == source)
                              .with_for_update())
        plugin = session.scalar(select(CatalogPlugin).where(
            CatalogPlugin.repository == source).with_for_update())
        if repo is None and plugin is None:
            raise NotFoundError(f"plugin {source} was not found")
        if session.scalar(select(Namespace.id).where(Namespace.name == dst_ns)) is None:
            raise NotFoundError(f"namespace {dst_ns} was not found")
        self._refuse_existing(session, destination)
        tags = 0
        if repo is not None:
            tags = session.scalar(select(func.count()).select_from(Tag)
                                  .where(Tag.repository_id == repo.id)) or 0
            repo.name = destination
        versions = 0
        if plugin is not None:
            versions = session.scalar(select(func.count()).select_from(CatalogVersion)
                                      .where(CatalogVersion.plugin_id == plugin.id)) or 0
            plugin.repository = destination
            plugin.namespace = dst_ns
            sync_plugin_text(session, plugin)
        self._move_policy(session, source, destination)
        session.execute(delete(TeamGrant).where(TeamGrant.repository == source))
        dropped = session.execute(delete(VerifiedSignatureRow).where(
            VerifiedSignatureRow.repository == source)).rowcount or 0  # type: ignore[attr-defined]
        detail: dict[str, Any] = {"from": source, "to": destination, "tags": tags,
                                  "versions": versions}
        for namespace in (src_ns, dst_ns):
            session.add(self.audit.event(AuditAction.TRANSFER, principal,
                                         namespace=namespace, target=destination, **detail))
        return TransferResult(source, destination, tags, versions, dropped)

    @staticmethod
    def _refuse_existing(session: Session, destination: str) -> None:
        """409 when anything was pushed or catalogued under the destination name. An
        empty repository row (an upload never finished, all tags deleted) counts too: its
        upload sessions and blob links would mix with the moved repository's."""
        taken = session.scalar(select(Repository.id).where(Repository.name == destination))
        if taken is None:
            taken = session.scalar(select(CatalogPlugin.id).where(
                CatalogPlugin.repository == destination))
        if taken is not None:
            raise ConflictError(f"{destination} already exists; delete or rename it first")

    @staticmethod
    def _move_policy(session: Session, source: str, destination: str) -> None:
        old = session.get(RepositoryPolicy, source)
        if old is None:
            return
        new = session.get(RepositoryPolicy, destination)
        if new is None:
            session.add(RepositoryPolicy(repository=destination, private=old.private,
                                         tag_immutable=old.tag_immutable))
        else:  # set before the first push: keep the stricter of the two
            new.private = bool(new.private or old.private)
            new.tag_immutable = bool(new.tag_immutable or old.tag_immutable)
        session.delete(old)

    def _reindex_signatures(self, repository: str) -> None:
        """Recompute the signature index (and the catalog's signed facet) of the moved
        versions under their new name, after the commit (verification reads the store)."""
        from wasmhub.signing.index import SignatureIndex

        with self.db.session() as session:
            digests = sorted(set(session.scalars(
                select(CatalogVersion.digest)
                .join(CatalogPlugin, CatalogPlugin.id == CatalogVersion.plugin_id)
                .where(CatalogPlugin.repository == repository))))
        index = SignatureIndex(self.hub)
        for digest in digests:
            try:
                index.refresh(repository, digest)
            except Exception:  # the transfer is committed; `catalog reindex` repairs
                log.exception("could not re-index signatures of %s@%s", repository, digest)
