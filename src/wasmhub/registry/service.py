"""``RegistryService``: every registry operation, used by the ``/v2/`` handlers and by
other parts of the hub directly (contract: docs/interfaces.md section 1).

Methods are synchronous (database and file I/O); async handlers call them in a worker
thread. Each validates its input and raises ``wasmhub.oci.errors`` exceptions. A push
writes bytes to the blob store first (verified, atomic) and then records metadata in one
short transaction, so a failure at any step leaves no manifest, tag or partial blob
visible; orphaned bytes are what ``wasmhub gc`` removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wasmhub.errors import InputError
from wasmhub.events import ManifestDeleted, ManifestFetched, ManifestPushed
from wasmhub.hub import Hub
from wasmhub.oci.digest import Digest, DigestAlgorithm, is_digest
from wasmhub.oci.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    OCIError,
    SizeInvalid,
    TooManyRequests,
)
from wasmhub.oci.manifest import Descriptor, ParsedManifest, parse_manifest
from wasmhub.oci.names import validate_name, validate_tag
from wasmhub.registry.db_ops import (
    MANIFEST_LOOKUPS,
    ManifestLookup,
    ensure_repository,
    insert_for,
    linked_blob_query,
)
from wasmhub.registry.listing import RegistryListing
from wasmhub.registry.models import (
    Blob,
    Manifest,
    ManifestReference,
    Repository,
    RepositoryBlob,
    Tag,
    UploadSession,
    utcnow,
)
from wasmhub.registry.records import ManifestRecord, Page, PushResult, Referrers
from wasmhub.settings import Settings
from wasmhub.storage.base import BlobInfo, BlobWriter, UploadInfo, put_bytes
from wasmhub.storage.errors import ContentDigestMismatch, UploadNotFound

if TYPE_CHECKING:
    from wasmhub.wasm.registry_hook import PluginAnalysis

# Layers clients must fetch from elsewhere (``urls``); they need not exist here.
_FOREIGN_MARKERS = ("foreign", "nondistributable")


def _parse_reference(reference: str) -> tuple[str | None, Digest | None]:
    """``(tag, None)`` or ``(None, digest)``; raises for a malformed one of either."""
    if is_digest(reference):
        return None, Digest.parse(reference)
    return validate_tag(reference), None


def _manifest_lookup(
    repository: str, reference: str, with_payload: bool
) -> tuple[ManifestLookup, str]:
    """The statement for a tag or digest reference, and the value to look up.

    A reading client asks for something; a reference that can name nothing (neither a
    valid tag nor a digest) names nothing here: MANIFEST_UNKNOWN (404), as distribution
    and the conformance tests expect. Only a PUT with such a tag is a bad request.
    """
    try:
        tag, digest = _parse_reference(reference)
    except (ManifestInvalid, DigestInvalid):
        raise ManifestUnknown(
            detail={"name": repository, "reference": reference[:200]}
        ) from None
    key = tag if tag is not None else str(digest)
    return MANIFEST_LOOKUPS[tag is not None, with_payload], key


def _missing_detail(missing: list[str]) -> dict[str, object]:
    """The first few missing digests and how many there are (never all 36k of them)."""
    return {"digest": missing[0], "missing": missing[:MAX_LISTED_MISSING],
            "missing_count": len(missing)}


def _manifest_record(repository: str, reference: str, row: Any) -> ManifestRecord:
    if row is None:
        raise ManifestUnknown(detail={"name": repository, "reference": reference})
    return ManifestRecord(row[0], row[1], row[2], row[3] if len(row) > 3 else b"")


@dataclass(frozen=True)
class UploadLimits:
    """What one client may hold open (docs/operations.md, "Limits")."""

    max_blob_bytes: int
    max_sessions: int
    max_sessions_per_client: int

    @classmethod
    def of(cls, settings: Settings) -> UploadLimits:
        return cls(settings.max_blob_bytes, settings.max_upload_sessions,
                   settings.max_upload_sessions_per_client)


# A rejected manifest names this many of the blobs or children it lacks, and the count.
MAX_LISTED_MISSING = 10


class RegistryService(RegistryListing):
    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.storage = hub.storage
        self.events = hub.events
        self.max_manifest_bytes = hub.settings.max_manifest_bytes
        # Blob GETs answer 307 to the store's own URL for this long (0: serve bytes).
        self.redirect_seconds = (
            hub.settings.storage_redirect_seconds if hub.settings.storage_redirect else 0
        )
        self.limits = UploadLimits.of(hub.settings)
        # Repository ids are not cached: a transfer (wasmhub.orgs.transfer) renames the
        # row, and another process's cache would then write a push of the old name into
        # the moved repository.

    # -- helpers -------------------------------------------------------------------

    def _repo_id(self, session: Session, name: str) -> int:
        return ensure_repository(session, name)

    def _record_blob(self, session: Session, repository: str, info: BlobInfo) -> None:
        session.execute(
            insert_for(session, Blob).values(digest=info.digest, size=info.size)
            .on_conflict_do_nothing(index_elements=["digest"])
        )
        session.execute(
            insert_for(session, RepositoryBlob)
            .values(repository_id=self._repo_id(session, repository), digest=info.digest)
            .on_conflict_do_nothing(index_elements=["repository_id", "digest"])
        )

    # -- blobs ---------------------------------------------------------------------

    def stat_blob(self, repository: str, digest: str) -> BlobInfo:
        """Size of a blob the repository may serve; raises BlobUnknown (one query)."""
        validate_name(repository)
        Digest.parse(digest)
        rows = self.db.read(
            select(Blob.size)
            .join(RepositoryBlob, RepositoryBlob.digest == Blob.digest)
            .join(Repository, Repository.id == RepositoryBlob.repository_id)
            .where(Repository.name == repository, Blob.digest == digest)
        )
        size = rows[0][0] if rows else None
        if size is None:
            raise BlobUnknown(detail={"digest": digest})
        return BlobInfo(digest, size)

    def blob_redirect(self, repository: str, digest: str) -> str | None:
        """A URL the client may fetch the blob from directly, when redirects are on and
        the driver has one; raises BlobUnknown like a GET."""
        self.stat_blob(repository, digest)
        if not self.redirect_seconds:
            return None
        return self.storage.redirect_url(digest, self.redirect_seconds)

    def open_blob(self, repository: str, digest: str) -> BinaryIO:
        self.stat_blob(repository, digest)
        return self.storage.open(digest)

    def put_blob(self, repository: str, data: bytes, expected_digest: str | None = None) -> str:
        validate_name(repository)
        if expected_digest is not None:
            Digest.parse(expected_digest)
        info = put_bytes(self.storage, data, expected_digest)
        self.record_blob(repository, info)
        return info.digest

    def new_blob_writer(self, repository: str) -> BlobWriter:
        """A writer for a single-stream upload; call :meth:`record_blob` after commit."""
        validate_name(repository)
        return self.storage.new_writer()

    def record_blob(self, repository: str, info: BlobInfo) -> None:
        """Make a stored blob visible in ``repository``."""
        with self.db.session() as session:
            self._record_blob(session, repository, info)

    def mount_blob(self, repository: str, source: str, digest: str) -> BlobInfo | None:
        """Link a blob of ``source`` into ``repository``; None when source lacks it."""
        validate_name(repository)
        validate_name(source)
        try:
            info = self.stat_blob(source, digest)
        except BlobUnknown:
            return None
        if self.storage.stat(digest) is None:
            return None  # metadata without bytes (e.g. after manual deletion): re-upload
        self.record_blob(repository, info)
        return info

    def delete_blob(self, repository: str, digest: str) -> None:
        """Unlink the blob from the repository; ``gc`` frees the bytes once unreferenced."""
        validate_name(repository)
        Digest.parse(digest)
        with self.db.session() as session:
            repo_id = session.scalar(select(Repository.id).where(Repository.name == repository))
            deleted = 0
            if repo_id is not None:
                deleted = session.execute(
                    delete(RepositoryBlob).where(
                        RepositoryBlob.repository_id == repo_id, RepositoryBlob.digest == digest
                    )
                ).rowcount  # type: ignore[attr-defined]
        if not deleted:
            raise BlobUnknown(detail={"digest": digest})

    # -- upload sessions -----------------------------------------------------------

    def start_upload(self, repository: str, client: str | None = None) -> UploadInfo:
        """A new resumable session; TOOMANYREQUESTS (429) past the open-session limits
        (in total, and per ``client`` when given)."""
        validate_name(repository)
        self._check_session_limits(client)
        metadata = {"repository": repository}
        if client:
            metadata["client"] = client
        info = self.storage.create_upload(metadata)
        try:
            with self.db.session() as session:
                repo_id = self._repo_id(session, repository)
                session.execute(
                    insert_for(session, UploadSession).values(
                        id=info.upload_id, repository_id=repo_id
                    )
                )
        except BaseException:
            self.storage.cancel_upload(info.upload_id)
            raise
        return info

    def _check_session_limits(self, client: str | None) -> None:
        limits = self.limits
        with self.db.session() as session:
            total = session.scalar(select(func.count()).select_from(UploadSession)) or 0
        if total >= limits.max_sessions:
            raise TooManyRequests(
                f"the registry has {total} uploads open, its limit (max_upload_sessions); "
                "finish or cancel some, or retry once idle ones expire",
                detail={"limit": limits.max_sessions},
            )
        if client is None or total < limits.max_sessions_per_client:
            return  # fewer open in total than one client may hold: no need to count
        mine = sum(1 for u in self.storage.list_uploads() if u.metadata.get("client") == client)
        if mine >= limits.max_sessions_per_client:
            raise TooManyRequests(
                f"{client} has {mine} uploads open, the limit per client "
                "(max_upload_sessions_per_client); finish or cancel some first",
                detail={"limit": limits.max_sessions_per_client},
            )

    def upload_status(self, repository: str, upload_id: str) -> UploadInfo:
        """The session, if it belongs to ``repository``; raises BlobUploadUnknown."""
        validate_name(repository)
        info = self.storage.upload_info(upload_id)
        if info.metadata.get("repository") != repository:
            raise BlobUploadUnknown(detail={"upload": upload_id})
        return info

    def append_upload(
        self, repository: str, upload_id: str, offset: int | None = None
    ) -> BlobWriter:
        self.upload_status(repository, upload_id)
        return self.storage.append_upload(upload_id, offset)

    def finish_upload(self, repository: str, upload_id: str, digest: str) -> BlobInfo:
        """Verify and publish the session's bytes as ``digest``; the session ends either way
        except when the session is unknown."""
        self.upload_status(repository, upload_id)
        Digest.parse(digest)
        try:
            info = self.storage.commit_upload(upload_id, digest)
        except (OCIError, ContentDigestMismatch, UploadNotFound):
            self._forget_upload(upload_id)
            raise
        with self.db.session() as session:
            self._record_blob(session, repository, info)
            session.execute(delete(UploadSession).where(UploadSession.id == upload_id))
        return info

    def cancel_upload(self, repository: str, upload_id: str) -> None:
        self.upload_status(repository, upload_id)
        self.storage.cancel_upload(upload_id)
        self._forget_upload(upload_id)

    def _forget_upload(self, upload_id: str) -> None:
        with self.db.session() as session:
            session.execute(delete(UploadSession).where(UploadSession.id == upload_id))

    # -- manifests -----------------------------------------------------------------

    def put_manifest(self, repository: str, reference: str, payload: bytes,
                     media_type: str) -> str:
        return self.push_manifest(repository, reference, payload, media_type).digest

    def push_manifest(self, repository: str, reference: str, payload: bytes,
                      media_type: str, *, analysis: PluginAnalysis | None = None) -> PushResult:
        """Validate, veto-check, store and tag a manifest; emits ManifestPushed.

        ``analysis``: the caller's analysis of these exact bytes (add-by-URL), which the
        push validator then trusts instead of unpacking the layers again."""
        validate_name(repository)
        tag, ref_digest = _parse_reference(reference)
        if len(payload) > self.max_manifest_bytes:
            raise SizeInvalid(
                f"manifest is {len(payload)} bytes; the limit is {self.max_manifest_bytes}",
                detail={"limit": self.max_manifest_bytes}, status=413,
            )
        parsed = parse_manifest(payload, media_type)
        algorithm = ref_digest.algorithm if ref_digest else DigestAlgorithm.SHA256
        digest = str(Digest.of(payload, algorithm))
        if ref_digest is not None and str(ref_digest) != digest:
            raise DigestInvalid(
                f"manifest digest is {digest}, not {ref_digest}",
                detail={"expected": str(ref_digest), "actual": digest},
            )
        self._check_references(repository, parsed)
        event = ManifestPushed(
            repository=repository, digest=digest, media_type=parsed.media_type,
            payload=payload, tag=tag,
            subject=parsed.subject.digest if parsed.subject else None,
            artifact_type=parsed.referrer_artifact_type, analysis=analysis,
        )
        try:
            checked = self.events.check(event)
        except OCIError:
            raise
        except InputError as exc:
            raise ManifestInvalid(exc.message, detail=exc.detail) from exc
        # Bytes first (the source of truth), then the metadata that makes them visible.
        put_bytes(self.storage, payload, digest)
        self._record_manifest(repository, digest, payload, parsed, tag)
        self.events.publish(checked)
        return PushResult(digest, event.subject)

    def _check_references(self, repository: str, parsed: ParsedManifest) -> None:
        blobs = [
            d.digest for d in ((parsed.config,) if parsed.config else ()) + parsed.layers
            if not any(m in d.media_type for m in _FOREIGN_MARKERS)
        ]
        children = list(parsed.child_digests)
        if not blobs and not children:
            return
        with self.db.session() as session:
            if blobs:
                found = set(session.scalars(linked_blob_query(repository, blobs)))
                missing = [d for d in dict.fromkeys(blobs) if d not in found]
                if missing:
                    raise ManifestBlobUnknown(
                        f"blob {missing[0]} is not in repository {repository}"
                        + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""),
                        detail=_missing_detail(missing),
                    )
            if children:
                found = set(session.scalars(
                    select(Manifest.digest)
                    .join(Repository, Repository.id == Manifest.repository_id)
                    .where(Repository.name == repository, Manifest.digest.in_(children))
                ))
                missing = [d for d in dict.fromkeys(children) if d not in found]
                if missing:
                    raise ManifestBlobUnknown(
                        f"manifest {missing[0]} listed in the index is not in {repository}"
                        + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""),
                        detail=_missing_detail(missing),
                    )

    def _record_manifest(self, repository: str, digest: str, payload: bytes,
                         parsed: ParsedManifest, tag: str | None) -> None:
        with self.db.session() as session:
            repo_id = self._repo_id(session, repository)
            session.execute(
                insert_for(session, Manifest).values(
                    repository_id=repo_id, digest=digest, media_type=parsed.media_type,
                    size=len(payload), artifact_type=parsed.referrer_artifact_type,
                    subject_digest=parsed.subject.digest if parsed.subject else None,
                    annotations=parsed.annotations or None, payload=payload,
                    created_at=utcnow(),
                ).on_conflict_do_nothing(index_elements=["repository_id", "digest"])
            )
            manifest_id = session.scalar(
                select(Manifest.id).where(
                    Manifest.repository_id == repo_id, Manifest.digest == digest
                )
            )
            refs = [{"manifest_id": manifest_id, "digest": d, "kind": "blob"}
                    for d in parsed.blob_digests]
            refs += [{"manifest_id": manifest_id, "digest": d, "kind": "manifest"}
                     for d in parsed.child_digests if d not in parsed.blob_digests]
            if refs:
                session.execute(
                    insert_for(session, ManifestReference).values(refs)
                    .on_conflict_do_nothing(index_elements=["manifest_id", "digest"])
                )
            if tag is not None:
                stmt = insert_for(session, Tag).values(
                    repository_id=repo_id, name=tag, manifest_id=manifest_id,
                    updated_at=utcnow(),
                )
                session.execute(stmt.on_conflict_do_update(
                    index_elements=["repository_id", "name"],
                    set_={"manifest_id": manifest_id, "updated_at": utcnow()},
                ))

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        record = self.fetch_manifest(repository, reference)
        return record.payload, record.media_type, record.digest

    def fetch_manifest(self, repository: str, reference: str, *,
                       with_payload: bool = True) -> ManifestRecord:
        """One query by tag or digest; a GET (``with_payload``) emits ManifestFetched
        before returning (the ``/v2/`` handler publishes it after its response instead)."""
        record = self.lookup_manifest(repository, reference, with_payload=with_payload)
        if with_payload:
            self.publish_fetched(repository, reference, record)
        return record

    def lookup_manifest(self, repository: str, reference: str, *,
                        with_payload: bool = True) -> ManifestRecord:
        """The manifest a tag or digest names (one Core query, no event); raises
        ManifestUnknown."""
        validate_name(repository)
        lookup, key = _manifest_lookup(repository, reference, with_payload)
        rows = self.db.read(lookup.statement, lookup.params(repository, key))
        return _manifest_record(repository, reference, rows[0] if rows else None)

    def lookup_manifest_nowait(self, repository: str, reference: str, *,
                               with_payload: bool = True) -> ManifestRecord | None:
        """:meth:`lookup_manifest` without blocking, for the event loop: None when the
        database cannot answer at once (not SQLite, busy), so call that in a thread."""
        validate_name(repository)
        lookup, key = _manifest_lookup(repository, reference, with_payload)
        rows = self.db.read_nowait(lookup.sql, lookup.positional(repository, key))
        if rows is None:
            return None
        return _manifest_record(repository, reference, rows[0] if rows else None)

    def publish_fetched(self, repository: str, reference: str, record: ManifestRecord) -> None:
        """Emit ManifestFetched (a download) for a manifest served by ``reference``."""
        self.events.publish(ManifestFetched(repository, record.digest, reference))

    def delete_manifest(self, repository: str, reference: str) -> None:
        """By digest: the manifest and its tags. By tag: only that tag (OCI 1.1).

        Emits ManifestDeleted naming the digest and the tags that stopped pointing to it.
        """
        validate_name(repository)
        tag, ref_digest = _parse_reference(reference)
        with self.db.session() as session:
            query = select(Manifest.id, Manifest.digest).join(
                Repository, Repository.id == Manifest.repository_id
            ).where(Repository.name == repository)
            if tag is not None:
                query = query.join(Tag, Tag.manifest_id == Manifest.id).where(Tag.name == tag)
            else:
                query = query.where(Manifest.digest == str(ref_digest))
            row = session.execute(query).first()
            if row is None:
                raise ManifestUnknown(detail={"name": repository, "reference": reference})
            manifest_id, digest = row
            if tag is not None:
                session.execute(delete(Tag).where(
                    Tag.manifest_id == manifest_id, Tag.name == tag
                ))
                tags: tuple[str, ...] = (tag,)
            else:
                tags = tuple(sorted(session.scalars(
                    select(Tag.name).where(Tag.manifest_id == manifest_id)
                )))
                session.execute(delete(Tag).where(Tag.manifest_id == manifest_id))
                session.execute(delete(ManifestReference).where(
                    ManifestReference.manifest_id == manifest_id
                ))
                session.execute(delete(Manifest).where(Manifest.id == manifest_id))
        self.events.publish(ManifestDeleted(repository, digest, tags))

    # -- listings ------------------------------------------------------------------

    def list_tags(self, repository: str) -> list[str]:
        return self.tags_page(repository).items

    def list_repositories(self) -> list[str]:
        return self.repositories_page().items


__all__ = ["Descriptor", "ManifestRecord", "Page", "PushResult", "Referrers", "RegistryService"]
