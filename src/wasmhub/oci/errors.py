"""The OCI distribution wire errors and the one function that renders their envelope.

Each code of the distribution spec is a class carrying ``code`` and ``http_status``;
each also derives from the matching :mod:`wasmhub.errors` class, so callers outside
``/v2/`` (catalog, CLI) can catch ``NotFoundError`` or ``InputError`` without knowing
OCI codes. The ``/v2/`` boundary renders any of them with :func:`error_envelope`.
"""

from __future__ import annotations

import json
from typing import ClassVar

from wasmhub.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    WasmhubError,
)


class OCIError(WasmhubError):
    """A distribution-spec error; ``status`` overrides the code's usual HTTP status."""

    code: ClassVar[str] = "UNKNOWN"
    default_message: ClassVar[str] = "unknown error"

    def __init__(
        self, message: str | None = None, *, detail: object | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message or self.default_message, detail=detail)
        if status is not None:
            self.http_status = status

    def to_wire(self) -> dict[str, object]:
        entry: dict[str, object] = {"code": self.code, "message": self.message}
        entry["detail"] = self.detail if self.detail is not None else {}
        return entry


class BlobUnknown(OCIError, NotFoundError):
    code = "BLOB_UNKNOWN"
    default_message = "blob unknown to registry"
    http_status = 404


class BlobUploadInvalid(OCIError, InputError):
    code = "BLOB_UPLOAD_INVALID"
    default_message = "blob upload invalid"
    http_status = 400


class BlobUploadUnknown(OCIError, NotFoundError):
    code = "BLOB_UPLOAD_UNKNOWN"
    default_message = "blob upload unknown to registry"
    http_status = 404


class DigestInvalid(OCIError, InputError):
    code = "DIGEST_INVALID"
    default_message = "provided digest did not match uploaded content"
    http_status = 400


class ManifestBlobUnknown(OCIError, InputError):
    code = "MANIFEST_BLOB_UNKNOWN"
    default_message = "manifest references a manifest or blob unknown to registry"
    http_status = 400


class ManifestInvalid(OCIError, InputError):
    code = "MANIFEST_INVALID"
    default_message = "manifest invalid"
    http_status = 400


class ManifestUnknown(OCIError, NotFoundError):
    code = "MANIFEST_UNKNOWN"
    default_message = "manifest unknown to registry"
    http_status = 404


class NameInvalid(OCIError, InputError):
    code = "NAME_INVALID"
    default_message = "invalid repository name"
    http_status = 400


class NameUnknown(OCIError, NotFoundError):
    code = "NAME_UNKNOWN"
    default_message = "repository name not known to registry"
    http_status = 404


class SizeInvalid(OCIError, InputError):
    code = "SIZE_INVALID"
    default_message = "provided length did not match content length"
    http_status = 400


class Unauthorized(OCIError, AuthenticationError):
    code = "UNAUTHORIZED"
    default_message = "authentication required"
    http_status = 401


class Denied(OCIError, PermissionDeniedError):
    code = "DENIED"
    default_message = "requested access to the resource is denied"
    http_status = 403


class Unsupported(OCIError, InputError):
    code = "UNSUPPORTED"
    default_message = "the operation is unsupported"
    http_status = 405


class TooManyRequests(OCIError):
    code = "TOOMANYREQUESTS"
    default_message = "too many requests"
    http_status = 429


class RangeInvalid(OCIError, InputError):
    code = "RANGE_INVALID"
    default_message = "invalid content range"
    http_status = 416


class PaginationNumberInvalid(OCIError, InputError):
    """Not in the spec's table; distribution's code for a bad ``n`` on listings."""

    code = "PAGINATION_NUMBER_INVALID"
    default_message = "invalid number of results requested"
    http_status = 400


ALL_ERRORS: tuple[type[OCIError], ...] = (
    BlobUnknown, BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, ManifestBlobUnknown,
    ManifestInvalid, ManifestUnknown, NameInvalid, NameUnknown, SizeInvalid, Unauthorized,
    Denied, Unsupported, TooManyRequests, RangeInvalid,
)


def error_envelope(*errors: OCIError) -> bytes:
    """The spec's JSON body: ``{"errors": [{"code", "message", "detail"}, ...]}``."""
    return json.dumps(
        {"errors": [e.to_wire() for e in errors]}, separators=(",", ":"), default=str
    ).encode()
