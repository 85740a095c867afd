"""The ``BlobStore`` protocol every storage driver implements, and its value types.

Contract shared by all drivers (checked by ``tests/storage``'s conformance suite):

- Blobs are content-addressed by digest and immutable; a blob becomes visible only
  whole and verified (hash while writing, then an atomic move). Readers never see a
  partial blob, and a failed or aborted write leaves nothing behind.
- Upload sessions are named by an opaque id, persist across process restarts and are
  visible to every worker process sharing the store; appends must start at the current
  size of the session (chunks in order).
- Upload sessions keep no state in process memory that another process needs: a chunk
  may arrive at any replica (a process may cache what it can re-derive and verify).
- Errors are the driver's own (``wasmhub.storage.errors``): ``BlobNotFound``,
  ``UploadNotFound``, ``UploadOffsetMismatch`` (append at the wrong offset),
  ``ContentDigestMismatch`` (content does not match), ``UploadBusy`` (session written
  by another request), ``StorageUnavailable`` (the backend failed). The ``/v2/``
  boundary maps them to OCI wire errors.
- ``BlobInfo.modified`` is when the blob was stored (seconds since the epoch): the
  garbage collector's grace period is measured against it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from wasmhub.oci.digest import Digest
from wasmhub.oci.errors import DigestInvalid
from wasmhub.storage.errors import InvalidBlobDigest


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int
    # When the bytes were stored; 0.0 when the caller did not ask the store. Not part
    # of equality: the same blob is the same blob whenever it was written.
    modified: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_id: str
    size: int
    started_at: float
    metadata: dict[str, str] = field(default_factory=dict)
    updated_at: float | None = None  # last write, when the driver knows it

    @property
    def last_active(self) -> float:
        return max(self.started_at, self.updated_at or 0.0)


class BlobWriter(Protocol):
    """Streams bytes into a new blob or an upload session, hashing as it goes."""

    @property
    def size(self) -> int:
        """Total bytes in the blob or session so far, including earlier chunks."""
        ...

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``."""
        ...

    def close(self) -> None:
        """Keep what was written (upload session stays open for more chunks or commit)."""
        ...

    def commit(self, expected_digest: str | None = None) -> BlobInfo:
        """Verify the content against ``expected_digest`` and publish it as a blob.

        On mismatch raises ContentDigestMismatch and discards the content. Without an expected
        digest the blob is stored under the sha256 computed while writing.
        """
        ...

    def abort(self) -> None:
        """Discard everything this writer wrote; an upload session keeps earlier chunks."""
        ...


class BlobStore(Protocol):
    def stat(self, digest: str) -> BlobInfo | None:
        """Size (and ``modified``) of a stored blob, or None when absent."""
        ...

    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        """A binary reader positioned at ``offset``; raises BlobNotFound."""
        ...

    def redirect_url(self, digest: str, expires_seconds: int) -> str | None:
        """A URL a client may fetch the blob from directly for ``expires_seconds`` (e.g. a
        presigned object-store URL), or None when the driver has none."""
        ...

    def check(self) -> None:
        """Raise StorageUnavailable when the backend cannot be reached (readiness)."""
        ...

    def new_writer(self) -> BlobWriter:
        """A writer for one blob sent in a single stream (monolithic upload)."""
        ...

    def create_upload(self, metadata: Mapping[str, str] | None = None) -> UploadInfo:
        """Start a resumable upload session carrying ``metadata`` (e.g. the repository)."""
        ...

    def upload_info(self, upload_id: str) -> UploadInfo:
        """The session's size and metadata; raises UploadNotFound."""
        ...

    def append_upload(self, upload_id: str, offset: int | None = None) -> BlobWriter:
        """A writer appending to the session; ``offset`` (when given) must equal its size."""
        ...

    def commit_upload(self, upload_id: str, expected_digest: str) -> BlobInfo:
        """Verify and publish the session's content as a blob, then end the session."""
        ...

    def cancel_upload(self, upload_id: str) -> None:
        """End the session and delete its data; raises UploadNotFound."""
        ...

    def delete(self, digest: str) -> bool:
        """Remove a blob; False when it was not there."""
        ...

    def walk(self) -> Iterator[BlobInfo]:
        """Every stored blob (with ``modified``), in no particular order."""
        ...

    def list_uploads(self) -> Iterator[UploadInfo]:
        """Every unfinished upload, including interrupted single-stream writes."""
        ...


def parse_digest(text: str) -> Digest:
    """The digest a driver was handed; raises InvalidBlobDigest (callers validate first)."""
    try:
        return Digest.parse(text)
    except DigestInvalid as exc:
        raise InvalidBlobDigest(exc.message, detail={"digest": text[:150]}) from None


def put_bytes(store: BlobStore, data: bytes, expected_digest: str | None = None) -> BlobInfo:
    """Store ``data`` as a blob (sha256 unless ``expected_digest`` names another)."""
    writer = store.new_writer()
    try:
        writer.write(data)
    except BaseException:
        writer.abort()
        raise
    return writer.commit(expected_digest)
