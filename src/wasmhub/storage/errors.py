"""The storage drivers' own errors: what went wrong with the bytes, in storage terms.

Drivers raise only these (and never an OCI wire error): the ``/v2/`` boundary
(``wasmhub.registry.base``) maps them to the distribution spec's codes, the REST API
maps them through the :mod:`wasmhub.errors` tree they derive from.
"""

from __future__ import annotations

from wasmhub.errors import ConflictError, InputError, NotFoundError, StorageError


class BlobNotFound(NotFoundError):
    """No blob is stored under the digest."""


class UploadNotFound(NotFoundError):
    """No upload session has that id (never created, finished, cancelled, or a bad id)."""


class UploadOffsetMismatch(InputError):
    """A chunk does not start where the session ends; ``size`` is the session's size."""

    def __init__(self, message: str, *, upload_id: str, size: int) -> None:
        super().__init__(message, detail={"upload": upload_id, "size": size})
        self.size = size


class UploadBusy(ConflictError):
    """Another request (in this or another replica) is writing to the session."""


class ContentDigestMismatch(InputError):
    """The content's digest is not the one the client named; nothing was stored."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"content has digest {actual}, not {expected}",
            detail={"expected": expected, "actual": actual},
        )
        self.expected = expected
        self.actual = actual


class InvalidBlobDigest(InputError):
    """The digest handed to the driver is malformed (callers validate digests first)."""


class StorageUnavailable(StorageError):
    """The storage backend failed or could not be reached (network, credentials, 5xx)."""


__all__ = [
    "BlobNotFound",
    "ContentDigestMismatch",
    "InvalidBlobDigest",
    "StorageUnavailable",
    "UploadBusy",
    "UploadNotFound",
    "UploadOffsetMismatch",
]
