"""``/v2/<name>/blobs/<digest>``: GET (with single ``Range``), HEAD and DELETE.

With ``storage_redirect`` on and a driver that has URLs of its own (S3), a GET is
answered 307 to a presigned URL instead, so the bytes flow from the object store.

A GET costs one database query and one thread hop: the link check, the open and, for
blobs up to one slice, the read happen together. Under ``wasmhub serve`` (which offers
the ASGI zerocopysend extension, :mod:`wasmhub.zerocopy`) a blob in a local file is not
read at all: the kernel sends it from the page cache (``sendfile(2)``). Otherwise blobs
up to ``WHOLE_READ_LIMIT`` are read at once and larger ones stream in 4 MiB slices
(64 KiB, Starlette's default, is about four times slower on loopback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from wasmhub.oci.errors import BlobUnknown, RangeInvalid
from wasmhub.registry.base import empty, endpoint, error_response, in_thread, path_param
from wasmhub.registry.service import RegistryService
from wasmhub.zerocopy import EXTENSION as ZERO_COPY

READ_SLICE = 1024 * 1024
STREAM_SLICE = 4 * 1024 * 1024
WHOLE_READ_LIMIT = 16 * 1024 * 1024
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for a single satisfiable range; None to send it all.

    Malformed or multi-range headers are ignored, as RFC 9110 allows; an unsatisfiable
    one raises RangeInvalid (416).
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise RangeInvalid("empty suffix range", detail={"size": size})
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start > end or start >= size:
        raise RangeInvalid(f"range {header!r} is outside the {size}-byte blob",
                           detail={"size": size})
    return start, min(end, size - 1)


@dataclass
class _Loaded:
    size: int
    start: int
    length: int
    partial: bool
    data: bytes | None
    handle: BinaryIO | None
    fileno: int | None = None  # set when the handle is a local file to sendfile from


def _fileno(handle: BinaryIO) -> int | None:
    try:
        return handle.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def _load(service: RegistryService, repository: str, digest: str, range_header: str | None,
          read_body: bool, zero_copy: bool) -> _Loaded:
    info = service.stat_blob(repository, digest)
    wanted = parse_range(range_header, info.size)
    start, end = wanted if wanted else (0, info.size - 1)
    length = max(end - start + 1, 0)
    if not read_body:
        return _Loaded(info.size, start, length, wanted is not None, None, None)
    handle = service.storage.open(digest, start)
    fileno = _fileno(handle) if zero_copy and length > 0 else None
    if fileno is not None:
        return _Loaded(info.size, start, length, wanted is not None, None, handle, fileno)
    if length <= WHOLE_READ_LIMIT:
        with handle:
            data = handle.read(length)
        if len(data) != length:
            raise BlobUnknown("blob content is missing or truncated", detail={"digest": digest})
        return _Loaded(info.size, start, length, wanted is not None, data, None)
    return _Loaded(info.size, start, length, wanted is not None, None, handle)


class _ZeroCopyBlob(Response):
    """Sends ``length`` bytes of a local file from ``start`` with sendfile(2)."""

    def __init__(self, loaded: _Loaded, status_code: int, headers: dict[str, str]) -> None:
        super().__init__(status_code=status_code, headers=headers,
                         media_type="application/octet-stream")
        self.loaded = loaded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loaded = self.loaded
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            await send({"type": ZERO_COPY, "file": loaded.fileno, "offset": loaded.start,
                        "count": loaded.length, "more_body": False})
        finally:
            if loaded.handle is not None:  # a local file: closing waits on nothing
                loaded.handle.close()


class _StreamedBlob(Response):
    """Streams ``length`` bytes from an open file in 1 MiB slices read in a thread."""

    def __init__(self, handle: BinaryIO, length: int, status_code: int,
                 headers: dict[str, str]) -> None:
        super().__init__(status_code=status_code, headers=headers,
                         media_type="application/octet-stream")
        self.handle = handle
        self.length = length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            remaining = self.length
            while remaining > 0:
                chunk = await in_thread(self.handle.read, min(STREAM_SLICE, remaining))
                if not chunk:
                    break  # truncated on disk; the client sees a short body
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk,
                            "more_body": remaining > 0})
            if remaining > 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await in_thread(self.handle.close)


def routes(service: RegistryService) -> list[Route]:
    @endpoint
    async def blob(request: Request) -> Response:
        repository = path_param(request, "name")
        digest = path_param(request, "digest")
        if request.method == "DELETE":
            await in_thread(service.delete_blob, repository, digest)
            return empty(202, {"Docker-Content-Digest": digest})
        if request.method == "GET" and service.redirect_seconds:
            url = await in_thread(service.blob_redirect, repository, digest)
            if url is not None:
                return empty(307, {"Location": url, "Docker-Content-Digest": digest})
        try:
            loaded = await in_thread(
                _load, service, repository, digest, request.headers.get("range"),
                request.method == "GET", ZERO_COPY in request.scope.get("extensions", {}),
            )
        except RangeInvalid as exc:
            response = error_response(exc)
            if isinstance(exc.detail, dict) and "size" in exc.detail:
                response.headers["Content-Range"] = f"bytes */{exc.detail['size']}"
            return response
        headers = {
            "Content-Length": str(loaded.length),
            "Docker-Content-Digest": digest,
            "Accept-Ranges": "bytes",
            "ETag": f'"{digest}"',
            "Cache-Control": "max-age=31536000",
        }
        status = 200
        if loaded.partial:
            status = 206
            end = loaded.start + loaded.length - 1
            headers["Content-Range"] = f"bytes {loaded.start}-{end}/{loaded.size}"
        if loaded.fileno is not None:
            return _ZeroCopyBlob(loaded, status, headers)
        if loaded.handle is not None:
            return _StreamedBlob(loaded.handle, loaded.length, status, headers)
        return Response(loaded.data or b"", status_code=status, headers=headers,
                        media_type="application/octet-stream")

    return [
        Route("/{name:path}/blobs/{digest}", blob, methods=["GET", "HEAD", "DELETE"]),
    ]


