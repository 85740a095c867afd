"""The wasmhub exception tree.

Every error the hub raises on purpose derives from :class:`WasmhubError`; anything else
escaping to a wire boundary is a bug. The tree, by what the caller did wrong:

- ``ConfigError``: a setting or config file is invalid (CLI exit 2).
- ``InputError``: the request or file given is malformed or unacceptable (HTTP 400).
  Domain modules subclass it, e.g. ``wasmhub.wasm.WasmFormatError``.
- ``NotFoundError``: the named thing does not exist (HTTP 404).
- ``ConflictError``: the request clashes with current state (HTTP 409).
- ``PermissionDeniedError``: authenticated but not allowed (HTTP 403).
- ``AuthenticationError``: credentials missing or wrong (HTTP 401).
- ``UpstreamError``: a remote registry or URL we fetched from failed (HTTP 502).
- ``BusyError``: a configured concurrency limit is reached; retry shortly (HTTP 503).
- ``StorageError``: the blob store failed underneath us (HTTP 500, logged).

The registry maps its own OCI error codes (``wasmhub.oci.errors``) on ``/v2/``; the
REST API maps this tree to problem+json in one place (``wasmhub.api.problems``).
"""

from __future__ import annotations


class WasmhubError(Exception):
    """Base class; ``message`` is one line a user can act on."""

    http_status: int = 500

    def __init__(self, message: str, *, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigError(WasmhubError):
    http_status = 500


class InputError(WasmhubError):
    http_status = 400


class NotFoundError(WasmhubError):
    http_status = 404


class ConflictError(WasmhubError):
    http_status = 409


class AuthenticationError(WasmhubError):
    http_status = 401


class PermissionDeniedError(WasmhubError):
    http_status = 403


class UpstreamError(WasmhubError):
    http_status = 502


class BusyError(WasmhubError):
    http_status = 503


class StorageError(WasmhubError):
    http_status = 500
