"""One ASGI middleware for request ids, metrics and the access log.

Pure ASGI (no response buffering): it sees the status and counts body bytes as they
are sent, so streamed blobs cost nothing extra.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wasmhub.ops import metrics
from wasmhub.ops.logs import ACCESS_LOGGER, REQUEST_ID
from wasmhub.settings import Settings
from wasmhub.zerocopy import EXTENSION as ZERO_COPY

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_UPLOAD_METHODS = {"POST", "PATCH", "PUT"}
# A client's request id is kept only when it is short and plain (it goes into logs).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger(ACCESS_LOGGER)


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.header = settings.request_id_header.lower().encode("latin-1")

    def _request_id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == self.header:
                text: str = value.decode("latin-1")
                if _REQUEST_ID_RE.match(text):
                    return text
                break
        return uuid.uuid4().hex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        token = REQUEST_ID.set(request_id)
        path: str = scope["path"]
        family = metrics.route_family(path)
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        uploading = family == "v2_uploads" and method in _UPLOAD_METHODS
        if uploading:
            metrics.UPLOADS_IN_FLIGHT.inc()
        started = time.perf_counter()
        status = 500
        sent = 0
        header = (self.header, request_id.encode("latin-1"))

        async def observed_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == ZERO_COPY:
                sent += message["count"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            if uploading:
                metrics.UPLOADS_IN_FLIGHT.dec()
            metrics.REQUESTS.labels(family, method, str(status)).inc()
            metrics.LATENCY.labels(family, method).observe(elapsed)
            if sent:
                metrics.BYTES_SERVED.labels(family).inc(sent)
            level = logging.WARNING if status >= 500 else logging.DEBUG
            if access_log.isEnabledFor(level):
                access_log.log(level, "%s %s %s", method, path, status, extra={
                    "method": method, "path": path, "status": status, "route": family,
                    "seconds": round(elapsed, 6), "bytes": sent,
                })
            REQUEST_ID.reset(token)
