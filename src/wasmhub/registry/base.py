"""What every ``/v2/`` handler shares: the error boundary, headers, body streaming.

:func:`endpoint` is the one place OCI errors become responses (the spec's JSON envelope)
and the one place the ``Docker-Distribution-API-Version`` header is added. Bodies are
streamed into blob writers in 1 MiB slices handed to a worker thread, so hashing and
disk writes never block the event loop and a dropped client leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from wasmhub.errors import WasmhubError
from wasmhub.oci.errors import (
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    OCIError,
    PaginationNumberInvalid,
    RangeInvalid,
    SizeInvalid,
    error_envelope,
)
from wasmhub.storage import errors as storage_errors
from wasmhub.storage.base import BlobWriter

log = logging.getLogger(__name__)

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
WRITE_SLICE = 1024 * 1024
DEFAULT_DETAIL_LIMIT = 8 * 1024
MAX_PAGE = 10_000

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


# The storage drivers' own errors, as the distribution spec names them.
_STORAGE_TO_OCI: dict[type[WasmhubError], type[OCIError]] = {
    storage_errors.BlobNotFound: BlobUnknown,
    storage_errors.UploadNotFound: BlobUploadUnknown,
    storage_errors.UploadOffsetMismatch: RangeInvalid,
    storage_errors.UploadBusy: BlobUploadInvalid,
    storage_errors.ContentDigestMismatch: DigestInvalid,
    storage_errors.InvalidBlobDigest: DigestInvalid,
}


def oci_error(exc: WasmhubError) -> OCIError:
    """The wire error for ``exc``: itself, its OCI code, or its status kept."""
    if isinstance(exc, OCIError):
        return exc
    wire = _STORAGE_TO_OCI.get(type(exc))
    if wire is not None:
        return wire(exc.message, detail=exc.detail)
    return OCIError(exc.message, detail=exc.detail, status=exc.http_status)


def bounded_detail(detail: object, limit: int) -> object:
    """``detail`` when its JSON is at most ``limit`` bytes, else a summary saying so: an
    error must not echo a request's bulk back (e.g. every digest an index lacks)."""
    if detail is None:
        return None
    size = len(json.dumps(detail, separators=(",", ":"), default=str))
    if size <= limit:
        return detail
    summary: dict[str, object] = {"truncated": True, "detail_bytes": size}
    if isinstance(detail, dict):
        small = {k: v for k, v in detail.items()
                 if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 200}
        summary.update(small)
    return summary


def error_response(exc: WasmhubError, detail_limit: int = DEFAULT_DETAIL_LIMIT) -> Response:
    """The one mapping of an error to the OCI envelope (its detail bounded in size):
    OCI errors as they are, storage drivers' own errors by their spec code, any other
    domain error with its status kept."""
    wire = oci_error(exc)
    detail = bounded_detail(wire.detail, detail_limit)
    errors = wire
    if detail is not wire.detail:
        errors = type(wire)(wire.message, detail=detail, status=wire.http_status)
    if exc.http_status >= 500:
        log.error("registry error %s: %s", type(exc).__name__, exc.message)
    return Response(
        error_envelope(errors), status_code=errors.http_status,
        media_type="application/json",
    )


def detail_limit(request: Request) -> int:
    hub = getattr(request.app.state, "hub", None)
    return hub.settings.max_error_detail_bytes if hub is not None else DEFAULT_DETAIL_LIMIT


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler: typed errors to the OCI envelope, API version header on all."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            response = await handler(request)
        except WasmhubError as exc:
            response = error_response(exc, detail_limit(request))
        except ClientDisconnect:
            # Nobody is listening; writers were aborted where the body was read.
            response = Response(status_code=400)
        response.headers.append(*API_VERSION)
        return response

    return wrapped


async def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(func, *args, **kwargs)


class AfterResponse:
    """Work that need not delay a response (e.g. counting a download): it is queued when
    the response is ready and runs while and after it is sent; the request's ASGI call
    ends when it is done. It runs on ``lanes`` dedicated threads: more jobs wait their
    turn instead of all contending for the GIL (and SQLite's one write lock) in the
    shared thread pool, which measurably slowed the event loop.

    At most ``limit`` jobs are queued or running per process; past that a handler waits
    for its job before responding, so a burst cannot pile unbounded work (or memory)
    behind the responses: under sustained load the work is paid for, only the latency
    of a single response improves.
    """

    def __init__(self, limit: int, lanes: int = 1) -> None:
        self.limit = limit
        self._pending = 0
        self._lock = threading.Lock()
        self._lanes = ThreadPoolExecutor(lanes, thread_name_prefix="wasmhub-after")

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    async def attach(self, response: Response, job: Callable[..., None], *args: Any) -> Response:
        """``response``, with ``job(*args)`` to run after it is sent (or run first)."""
        with self._lock:
            full = self._pending >= self.limit
            if not full:
                self._pending += 1
        if full:
            await self._submit(job, *args)
            return response
        response.background = BackgroundTask(self._await, self._submit(job, *args))
        return response

    def _submit(self, job: Callable[..., None], *args: Any) -> asyncio.Future[None]:
        """Queue ``job`` now (so a response that is never sent still gets it done)."""
        return asyncio.wrap_future(self._lanes.submit(self._run, job, *args))

    def _run(self, job: Callable[..., None], *args: Any) -> None:
        try:
            job(*args)
        finally:
            with self._lock:
                self._pending -= 1

    @staticmethod
    async def _await(done: asyncio.Future[None]) -> None:
        await done

    def close(self) -> None:
        """Finish the queued jobs and stop the threads."""
        self._lanes.shutdown(wait=True)


def empty(status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=status, headers={"Content-Length": "0", **(headers or {})})


def json_response(data: Any, headers: Mapping[str, str] | None = None,
                  media_type: str = "application/json") -> Response:
    return JSONResponse(data, headers=dict(headers or {}), media_type=media_type)


def content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SizeInvalid("Content-Length is not a number") from None
    if value < 0:
        raise SizeInvalid("Content-Length is negative")
    return value


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) anything over ``limit`` without buffering it all."""
    declared = content_length(request)
    if declared is not None and declared > limit:
        raise SizeInvalid(
            f"body of {declared} bytes exceeds the limit of {limit}",
            detail={"limit": limit}, status=413,
        )
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise SizeInvalid(
                f"body exceeds the limit of {limit} bytes", detail={"limit": limit}, status=413
            )
        parts.append(chunk)
    return b"".join(parts)


def too_large(limit: int) -> SizeInvalid:
    return SizeInvalid(
        f"the blob would exceed the limit of {limit} bytes (max_blob_bytes)",
        detail={"limit": limit}, status=413,
    )


async def pump_body(request: Request, writer: BlobWriter, *, max_total: int | None = None,
                    expected: int | None = None) -> int:
    """Stream the request body into ``writer``; returns bytes written by this request.

    ``max_total`` bounds the writer's total size (earlier chunks included): past it the
    upload is refused (413) as soon as it is exceeded. ``expected`` is the length the
    request promised (its ``Content-Range``): a body of another length is refused (416).
    On any failure (including the client going away) the writer is aborted, so only
    complete, consistent requests change an upload.
    """
    written = 0
    buffer: list[bytes] = []
    buffered = 0
    try:
        declared = content_length(request)
        if max_total is not None and declared is not None and \
                writer.size + declared > max_total:
            raise too_large(max_total)
        async for chunk in request.stream():
            if not chunk:
                continue
            buffer.append(chunk)
            buffered += len(chunk)
            if max_total is not None and writer.size + buffered > max_total:
                raise too_large(max_total)
            if expected is not None and written + buffered > expected:
                raise _range_mismatch(expected, written + buffered, more=True)
            if buffered >= WRITE_SLICE:
                await in_thread(writer.write, b"".join(buffer))
                written += buffered
                buffer, buffered = [], 0
        if buffered:
            await in_thread(writer.write, b"".join(buffer))
            written += buffered
        if expected is not None and written != expected:
            raise _range_mismatch(expected, written, more=False)
    except BaseException:
        await in_thread(writer.abort)
        raise
    return written


def _range_mismatch(expected: int, got: int, *, more: bool) -> RangeInvalid:
    body = f"more than {expected}" if more else f"{got}"
    return RangeInvalid(
        f"Content-Range promises {expected} bytes but the body has {body}",
        detail={"expected": expected, "received": got},
    )


def page_args(request: Request) -> tuple[int | None, str | None]:
    """``n`` and ``last`` of a paginated listing."""
    raw_n = request.query_params.get("n")
    n: int | None = None
    if raw_n is not None and raw_n != "":
        try:
            n = int(raw_n)
        except ValueError:
            raise PaginationNumberInvalid(f"n={raw_n[:20]!r} is not a number") from None
        if n < 0:
            raise PaginationNumberInvalid("n must not be negative")
        n = min(n, MAX_PAGE)
    return n, request.query_params.get("last") or None


def next_link(path: str, n: int | None, last_item: str) -> dict[str, str]:
    from urllib.parse import urlencode

    query = urlencode({"n": n, "last": last_item} if n is not None else {"last": last_item})
    return {"Link": f'<{path}?{query}>; rel="next"'}


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


