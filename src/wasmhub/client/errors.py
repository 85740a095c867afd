"""Typed errors for registry and hub clients, built from what the server answered.

``RegistryError`` carries the OCI error ``code`` (e.g. ``MANIFEST_UNKNOWN``), the HTTP
``status`` and a one-line ``message``. Each concrete class also derives from the matching
``wasmhub.errors`` class, so callers can catch ``NotFoundError`` without knowing about the
client. ``from_response`` parses the OCI error envelope
``{"errors": [{"code", "message", "detail"}]}`` and problem+json bodies.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from wasmhub.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamError,
    WasmhubError,
)


class RegistryError(WasmhubError):
    """An error answer from a registry (or hub API)."""

    def __init__(
        self, message: str, *, code: str = "UNKNOWN", status: int = 0, detail: object = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.code = code
        self.status = status


class RegistryNotFoundError(RegistryError, NotFoundError):
    pass


class RegistryAuthenticationError(RegistryError, AuthenticationError):
    pass


class RegistryPermissionError(RegistryError, PermissionDeniedError):
    pass


class RegistryInputError(RegistryError, InputError):
    pass


class RegistryUpstreamError(RegistryError, UpstreamError):
    pass


class UnreachableError(UpstreamError):
    """The TCP/TLS connection itself failed; the message names the host and the reason."""


class DigestMismatchError(UpstreamError):
    """Downloaded bytes do not hash to the digest that was asked for."""


_STATUS_CLASSES: dict[int, type[RegistryError]] = {
    400: RegistryInputError,
    401: RegistryAuthenticationError,
    403: RegistryPermissionError,
    404: RegistryNotFoundError,
    405: RegistryInputError,
    409: RegistryInputError,
    413: RegistryInputError,
    415: RegistryInputError,
    416: RegistryInputError,
}

_STATUS_TEXT = {
    401: "authentication required",
    403: "access denied",
    404: "not found",
    405: "operation not supported by this registry",
    429: "too many requests",
}


def _parse_body(response: httpx.Response) -> tuple[str | None, str | None, Any]:
    """(code, message, detail) from an OCI envelope or problem+json, if the body has one."""
    try:
        raw = response.content
    except httpx.ResponseNotRead:
        return None, None, None
    if not raw:
        return None, None, None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace").strip().splitlines()
        return None, (text[0][:200] if text else None), None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return (
                str(first.get("code") or "UNKNOWN"),
                str(first.get("message") or "").strip() or None,
                first.get("detail"),
            )
        if "title" in body or "detail" in body:  # problem+json
            detail = body.get("detail")
            title = body.get("title")
            message = f"{title}: {detail}" if title and detail else (detail or title)
            return None, str(message) if message else None, body
    return None, None, None


def error_from_response(response: httpx.Response, *, what: str) -> RegistryError:
    """A typed error for a non-success ``response``; ``what`` names the thing asked for."""
    status = response.status_code
    code, message, detail = _parse_body(response)
    cls = _STATUS_CLASSES.get(status, RegistryUpstreamError if status >= 500 else RegistryError)
    if status == 401:
        text = message or _STATUS_TEXT[401]
        hint = " (run `wasmhub login " + response.url.netloc.decode() + "`)"
        return cls(f"{what}: {text}{hint}", code=code or "UNAUTHORIZED", status=status,
                   detail=detail)
    text = message or _STATUS_TEXT.get(status) or f"HTTP {status}"
    prefix = f"{code}: " if code and code.lower().replace("_", " ") != text.lower() else ""
    return cls(f"{what}: {prefix}{text}", code=code or f"HTTP_{status}", status=status,
               detail=detail)


def unreachable(target: str, exc: httpx.TransportError) -> UnreachableError:
    """One line for a transport failure: refused, DNS, TLS, timeout."""
    reason = str(exc) or type(exc).__name__
    lowered = reason.lower()
    if "refused" in lowered:
        reason = "connection refused"
    elif "name or service not known" in lowered or "nodename nor servname" in lowered or (
        "temporary failure in name resolution" in lowered
    ):
        reason = "unknown host"
    elif "certificate" in lowered or "ssl" in lowered:
        reason = f"TLS error ({reason.splitlines()[0][:160]}); use --insecure for a self-signed"\
            " or plain-HTTP registry"
    elif isinstance(exc, httpx.TimeoutException):
        reason = "timed out"
    else:
        reason = reason.splitlines()[0][:200]
    return UnreachableError(f"cannot reach registry at {target}: {reason}")
