"""The hub's side of signatures: reading its own registry, the verified-signature index the
catalog shows ("Signed by", the ``signed`` facet), and the live report of a version page.

``SignatureIndex`` subscribes to the registry's events (``Hub.open``): a signature pushed
under a cosign tag or as a signature referrer, or a deleted one, recomputes which trusted
keys of the repository's namespace verify the subject; ``TrustService`` does the same for
a whole namespace when a key is added or revoked. In-hub verification checks the
repository named by ``docker-reference`` (the registry host a client used to sign may
differ from the hub's configured base URL).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wasmhub.errors import NotFoundError, WasmhubError
from wasmhub.events import Event, ManifestDeleted, ManifestPushed
from wasmhub.oci.digest import sha256_digest
from wasmhub.signing.formats import SIGNATURE_ARTIFACT_TYPE
from wasmhub.signing.models import VerifiedSignatureRow, utcnow

if TYPE_CHECKING:
    from wasmhub.hub import Hub
    from wasmhub.registry.service import RegistryService
    from wasmhub.signing.remote import Report

log = logging.getLogger(__name__)
COSIGN_TAG_RE = re.compile(r"^(sha256)-([0-9a-f]{64})\.sig$")


def namespace_of(repository: str) -> str:
    return repository.split("/", 1)[0] if "/" in repository else "library"


class ServiceReader:
    """``RegistryReader`` over the hub's own registry (no downloads are counted)."""

    def __init__(self, registry: RegistryService) -> None:
        self.registry = registry

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        try:
            record = self.registry.lookup_manifest(repository, reference)
        except NotFoundError:
            return None
        return record.payload, record.media_type, record.digest

    def exists(self, repository: str, digest: str) -> bool:
        return self.manifest(repository, digest) is not None

    def blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        info = self.registry.stat_blob(repository, digest)
        if info.size > max_bytes:
            raise NotFoundError(f"blob {digest} is larger than {max_bytes} bytes")
        with self.registry.open_blob(repository, digest) as stream:
            data = stream.read()
        if sha256_digest(data) != digest:
            raise NotFoundError(f"blob {digest} does not match its digest")
        return data

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]]:
        return [d.to_json() for d in self.registry.referrers(repository, digest).descriptors]


def signed_by(session: Session, repository: str,
              digests: Iterable[str] | None = None) -> dict[str, list[str]]:
    """digest -> names of the namespace keys that verify a signature of it."""
    query = select(VerifiedSignatureRow.digest, VerifiedSignatureRow.key_name).where(
        VerifiedSignatureRow.repository == repository)
    if digests is not None:
        query = query.where(VerifiedSignatureRow.digest.in_(list(digests)))
    result: dict[str, list[str]] = {}
    for digest, key in session.execute(query.order_by(VerifiedSignatureRow.key_name)):
        result.setdefault(digest, []).append(key)
    return result


class SignatureIndex:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._registry: RegistryService | None = None

    @property
    def registry(self) -> RegistryService:
        if self._registry is None:
            from wasmhub.registry.service import RegistryService

            self._registry = RegistryService(self.hub)
        return self._registry

    # -- events ----------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, ManifestPushed):
            match = COSIGN_TAG_RE.match(event.tag or "")
            if match:
                self.refresh(event.repository, f"{match.group(1)}:{match.group(2)}")
            elif event.subject and event.artifact_type == SIGNATURE_ARTIFACT_TYPE:
                self.refresh(event.repository, event.subject)
        elif isinstance(event, ManifestDeleted):
            subjects = {f"{m.group(1)}:{m.group(2)}" for t in event.tags
                        if (m := COSIGN_TAG_RE.match(t))}
            if not event.tags:  # deleted by digest: any signed subject may have lost one
                subjects |= self._indexed_digests(event.repository)
                subjects.add(event.digest)
            for subject in subjects:
                self.refresh(event.repository, subject)

    # -- computing -------------------------------------------------------------------------

    def report(self, repository: str, digest: str) -> Report:
        """Every signature and attestation of ``repository@digest``, verified against the
        namespace's keys (revoked and expired ones are reported as such)."""
        # Imported here: the catalog imports this module at start-up, and the verification
        # path pulls in httpx (through wasmhub.client), ~0.4 s of a worker's start on a
        # loaded machine, where uvicorn's supervisor kills slow workers.
        from wasmhub.signing.remote import verify_manifest
        from wasmhub.signing.trust import TrustService
        from wasmhub.signing.verify import Expected

        keys = TrustService(self.hub).trusted_keys(namespace_of(repository))
        return verify_manifest(ServiceReader(self.registry), Expected(digest, repository), keys)

    def refresh(self, repository: str, digest: str) -> list[str]:
        """Recompute the index rows of one manifest; returns the verifying key names."""
        try:
            report = self.report(repository, digest)
            verified = report.signatures
        except WasmhubError as exc:  # the subject is gone, or unreadable
            log.info("no signatures indexed for %s@%s: %s", repository, digest, exc.message)
            verified = []
        namespace = namespace_of(repository)
        with self.hub.database.session() as session:
            session.execute(delete(VerifiedSignatureRow).where(
                VerifiedSignatureRow.repository == repository,
                VerifiedSignatureRow.digest == digest))
            seen: set[str] = set()
            for item in verified:
                if item.key.public.fingerprint in seen:
                    continue
                seen.add(item.key.public.fingerprint)
                session.add(VerifiedSignatureRow(
                    repository=repository, digest=digest, namespace=namespace,
                    key_name=item.key.name, fingerprint=item.key.public.fingerprint,
                    verified_at=utcnow()))
        self._refresh_catalog(repository)
        return sorted(v.key.name for v in verified)

    def refresh_namespace(self, namespace: str) -> int:
        """Recompute every indexed or catalogued manifest of the namespace's repositories."""
        targets = self._namespace_targets(namespace)
        for repository, digest in sorted(targets):
            self.refresh(repository, digest)
        return len(targets)

    def reindex(self) -> int:
        """Rebuild the whole index from the stored signatures (``catalog reindex``)."""
        from wasmhub.catalog.models import CatalogPlugin

        with self.hub.database.session() as session:
            namespaces = set(session.scalars(select(CatalogPlugin.namespace)))
            namespaces |= set(session.scalars(select(VerifiedSignatureRow.namespace)))
        return sum(self.refresh_namespace(ns) for ns in sorted(namespaces))

    def _indexed_digests(self, repository: str) -> set[str]:
        with self.hub.database.session() as session:
            return set(session.scalars(select(VerifiedSignatureRow.digest).where(
                VerifiedSignatureRow.repository == repository)))

    def _namespace_targets(self, namespace: str) -> set[tuple[str, str]]:
        from wasmhub.catalog.models import CatalogPlugin, CatalogVersion

        with self.hub.database.session() as session:
            rows = session.execute(
                select(CatalogPlugin.repository, CatalogVersion.digest)
                .join(CatalogVersion, CatalogVersion.plugin_id == CatalogPlugin.id)
                .where(CatalogPlugin.namespace == namespace))
            targets = {(r, d) for r, d in rows}
            targets |= {(r, d) for r, d in session.execute(
                select(VerifiedSignatureRow.repository, VerifiedSignatureRow.digest)
                .where(VerifiedSignatureRow.namespace == namespace))}
        return targets

    def _refresh_catalog(self, repository: str) -> None:
        from wasmhub.catalog.service import CatalogService

        CatalogService(self.hub).refresh_plugin(repository)
