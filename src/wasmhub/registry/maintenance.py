"""Offline upkeep of the registry's bytes: ``fsck`` (verify) and ``gc`` (reclaim).

``fsck`` re-hashes every stored blob against its address and checks every blob and
manifest the database knows is present in the store. ``gc`` finds blobs no manifest
references (neither as a manifest payload nor as config, layer or index child) and, when
asked to, removes them and their links. Blobs written or linked within the grace period
are kept, because a client may be between pushing its blobs and pushing the manifest;
upload sessions are only removed once older than ``upload_max_age``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select

from wasmhub.errors import StorageError
from wasmhub.hub import Hub
from wasmhub.oci.digest import Digest, new_hasher
from wasmhub.oci.errors import BlobUploadUnknown, DigestInvalid
from wasmhub.registry.models import (
    Blob,
    Manifest,
    ManifestReference,
    RepositoryBlob,
    UploadSession,
)
from wasmhub.storage.errors import UploadNotFound

HASH_SLICE = 1024 * 1024


@dataclass
class FsckReport:
    checked: int = 0
    bytes_checked: int = 0
    corrupt: list[dict[str, str]] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing_blobs or self.errors)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def fsck(hub: Hub) -> FsckReport:
    report = FsckReport()
    stored: set[str] = set()
    for info in hub.storage.walk():
        stored.add(info.digest)
        try:
            expected = Digest.parse(info.digest)
        except DigestInvalid:
            report.errors.append(f"unexpected file in blob store: {info.digest}")
            continue
        hasher = new_hasher(expected.algorithm)
        try:
            with hub.storage.open(info.digest) as handle:
                while chunk := handle.read(HASH_SLICE):
                    hasher.update(chunk)
        except OSError as exc:
            report.errors.append(f"cannot read {info.digest}: {exc.strerror}")
            continue
        except StorageError as exc:
            report.errors.append(f"cannot read {info.digest}: {exc.message}")
            continue
        report.checked += 1
        report.bytes_checked += info.size
        actual = f"{expected.algorithm}:{hasher.hexdigest()}"
        if actual != info.digest:
            report.corrupt.append({"digest": info.digest, "actual": actual})
    with hub.database.session() as session:
        known = set(session.scalars(select(Blob.digest)))
        known |= set(session.scalars(select(Manifest.digest)))
    report.missing_blobs = sorted(known - stored)
    return report


@dataclass
class GcReport:
    deleted: bool
    blobs: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    uploads: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def gc(hub: Hub, *, delete_now: bool = False, grace_seconds: float = 3600,
       upload_max_age: float = 86400) -> GcReport:
    """Report (and with ``delete_now`` remove) unreferenced blobs and stale uploads."""
    now = time.time()
    cutoff = datetime.fromtimestamp(now - grace_seconds, UTC)
    with hub.database.session() as session:
        keep = set(session.scalars(select(Manifest.digest)))
        keep |= set(session.scalars(select(ManifestReference.digest)))
        keep |= set(session.scalars(select(Blob.digest).where(Blob.created_at > cutoff)))
        keep |= set(session.scalars(
            select(RepositoryBlob.digest).where(RepositoryBlob.created_at > cutoff)
        ))
    report = GcReport(deleted=delete_now)
    for info in hub.storage.walk():
        if info.digest in keep:
            continue
        # A blob committed moments ago may not have its database row yet.
        if info.modified > now - grace_seconds:
            continue
        report.blobs.append({"digest": info.digest, "size": info.size})
        report.bytes += info.size
    stale = [u.upload_id for u in hub.storage.list_uploads()
             if u.started_at < now - upload_max_age]
    report.uploads = sorted(stale)
    if delete_now:
        _delete(hub, [b["digest"] for b in report.blobs], stale, cutoff)
    return report


def _delete(hub: Hub, digests: list[str], uploads: list[str], cutoff: datetime) -> None:
    for digest in digests:
        with hub.database.session() as session:
            # Re-check in the transaction: a manifest may have arrived since the scan.
            referenced = session.scalar(
                select(ManifestReference.digest).where(ManifestReference.digest == digest)
                .limit(1)
            ) or session.scalar(select(Manifest.digest).where(Manifest.digest == digest).limit(1))
            if referenced:
                continue
            session.execute(delete(RepositoryBlob).where(
                RepositoryBlob.digest == digest, RepositoryBlob.created_at <= cutoff,
            ))
            linked = session.scalar(
                select(RepositoryBlob.digest).where(RepositoryBlob.digest == digest).limit(1)
            )
            if linked:
                continue  # linked again within the grace period: a push is under way
            session.execute(delete(Blob).where(Blob.digest == digest))
        hub.storage.delete(digest)
    if uploads:
        with hub.database.session() as session:
            session.execute(delete(UploadSession).where(or_(
                *(UploadSession.id == u for u in uploads)
            )))
        for upload_id in uploads:
            with contextlib.suppress(UploadNotFound):  # finished or cancelled meanwhile
                hub.storage.cancel_upload(upload_id)


def sweep_uploads(hub: Hub, max_idle: float, now: float | None = None) -> list[str]:
    """Remove upload sessions (and interrupted single-stream writes) idle for longer
    than ``max_idle`` seconds; returns their ids. The server runs this periodically
    (``upload_session_expiry_seconds``), so abandoned sessions neither pile up on disk
    nor count against the open-session limits; safe to run in several processes."""
    cutoff = (now if now is not None else time.time()) - max_idle
    idle: list[str] = []
    live: set[str] = set()
    for info in hub.storage.list_uploads():
        if info.last_active < cutoff:
            idle.append(info.upload_id)
        else:
            live.add(info.upload_id)
    for upload_id in idle:
        with contextlib.suppress(BlobUploadUnknown):
            hub.storage.cancel_upload(upload_id)
    started_before = datetime.fromtimestamp(cutoff, UTC)
    with hub.database.session() as session:
        if idle:
            session.execute(delete(UploadSession).where(UploadSession.id.in_(idle)))
        # Rows whose bytes are gone (removed by hand, or by another process's sweep).
        orphans = [row for row in session.scalars(
            select(UploadSession.id).where(UploadSession.started_at < started_before)
        ) if row not in live]
        if orphans:
            session.execute(delete(UploadSession).where(UploadSession.id.in_(orphans)))
    return sorted(idle)


__all__ = ["FsckReport", "GcReport", "fsck", "gc", "sweep_uploads"]
