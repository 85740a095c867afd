"""Response hardening for every surface: security headers and host-independent redirects.

:class:`HardenResponses` wraps the whole app (``wasmhub.app``):

- every response gets ``X-Content-Type-Options: nosniff``;
- every HTML response (UI pages, error pages, ``/api/docs``) gets a Content-Security-
  Policy without inline script or style (the templates keep all script and CSS in
  ``/static``), ``frame-ancestors 'none'`` plus ``X-Frame-Options: DENY`` against
  clickjacking, and ``Referrer-Policy: same-origin``;
- a redirect whose ``Location`` was built from the request's own ``Host`` header (as
  Starlette's trailing-slash redirects are) is made relative, so a forged ``Host``
  cannot send a visitor elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # README badges and screenshots are commonly hosted elsewhere (https only).
    "img-src 'self' data: https:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def relative_location(location: str, host: str | None) -> str:
    """``location`` without scheme and host when it points at ``host`` (the request's own
    Host header); other locations are returned unchanged."""
    parts = urlsplit(location)
    if not parts.netloc or host is None or parts.netloc.lower() != host.lower():
        return location
    path = "/" + parts.path.lstrip("/")  # never "//x", which a browser reads as a host
    return urlunsplit(("", "", path, parts.query, parts.fragment))


class HardenResponses:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in HTML_HEADERS.items():
                        headers.setdefault(name, value)
                location = headers.get("location")
                if location is not None and 300 <= message["status"] < 400:
                    headers["location"] = relative_location(location, host)
            await send(message)

        await self.app(scope, receive, send_hardened)
