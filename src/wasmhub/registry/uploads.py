"""``/v2/<name>/blobs/uploads/``: monolithic, POST-PUT, chunked and mounted uploads.

- ``POST ?digest=D`` with the body: one request, 201.
- ``POST ?mount=D&from=R``: 201 when R has D, else a new session (202).
- ``POST``: a new session (202, ``Location``), then ``PATCH`` chunks in order
  (``Content-Range: start-end``; 416 when out of order), ``GET`` the status, ``PUT
  ?digest=D`` (optionally with a last chunk) to finish, or ``DELETE`` to cancel.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmhub.oci.digest import Digest
from wasmhub.oci.errors import DigestInvalid, RangeInvalid
from wasmhub.registry.base import content_length, empty, endpoint, in_thread, path_param, pump_body
from wasmhub.registry.service import RegistryService
from wasmhub.storage.base import BlobInfo, UploadInfo

_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def parse_content_range(header: str | None, length: int | None) -> tuple[int, int] | None:
    """``(start, end)`` (inclusive) from ``Content-Range: start-end``; None when absent
    (stream mode). The body must then carry exactly ``end - start + 1`` bytes."""
    if header is None:
        return None
    match = _CONTENT_RANGE_RE.match(header.strip())
    if not match:
        raise RangeInvalid(f"Content-Range {header[:60]!r} is not 'start-end'")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise RangeInvalid(f"Content-Range {header!r} ends before it starts")
    if length is not None and length != end - start + 1:
        raise RangeInvalid(
            f"Content-Range {header!r} spans {end - start + 1} bytes but Content-Length "
            f"is {length}"
        )
    return start, end


def _span(content_range: tuple[int, int] | None) -> tuple[int | None, int | None]:
    """The offset a chunk must start at and the bytes it must carry (None: unchecked)."""
    if content_range is None:
        return None, None
    start, end = content_range
    return start, end - start + 1


def _blob_location(repository: str, digest: str) -> str:
    return f"/v2/{repository}/blobs/{digest}"


def _session_headers(repository: str, info: UploadInfo) -> dict[str, str]:
    return {
        "Location": f"/v2/{repository}/blobs/uploads/{info.upload_id}",
        "Docker-Upload-UUID": info.upload_id,
        # Inclusive end of what is stored; distribution sends 0-0 for an empty session.
        "Range": f"0-{max(info.size - 1, 0)}",
    }


def _created(repository: str, info: BlobInfo) -> Response:
    return empty(201, {"Location": _blob_location(repository, info.digest),
                       "Docker-Content-Digest": info.digest})


def _client(request: Request) -> str:
    """Who holds an upload session, for the per-client limit: the peer address."""
    return request.client.host if request.client else "unknown"


def routes(service: RegistryService) -> list[Route]:
    max_blob = service.limits.max_blob_bytes

    async def monolithic(request: Request, repository: str, digest: str) -> Response:
        Digest.parse(digest)
        writer = await in_thread(service.new_blob_writer, repository)
        await pump_body(request, writer, max_total=max_blob)
        info = await in_thread(writer.commit, digest)
        await in_thread(service.record_blob, repository, info)
        return _created(repository, info)

    @endpoint
    async def start(request: Request) -> Response:
        repository = path_param(request, "name")
        params = request.query_params
        mount = params.get("mount")
        if mount:
            Digest.parse(mount)
            source = params.get("from")
            if source:
                info = await in_thread(service.mount_blob, repository, source, mount)
                if info is not None:
                    return _created(repository, info)
        digest = params.get("digest")
        if digest is not None:
            return await monolithic(request, repository, digest)
        session = await in_thread(service.start_upload, repository, _client(request))
        return empty(202, _session_headers(repository, session))

    @endpoint
    async def session(request: Request) -> Response:
        repository = path_param(request, "name")
        upload_id = path_param(request, "upload_id")
        if request.method == "GET":
            info = await in_thread(service.upload_status, repository, upload_id)
            return empty(204, _session_headers(repository, info))
        if request.method == "DELETE":
            await in_thread(service.cancel_upload, repository, upload_id)
            return empty(204)
        length = content_length(request)
        offset, expected = _span(
            parse_content_range(request.headers.get("content-range"), length)
        )
        if request.method == "PATCH":
            writer = await in_thread(service.append_upload, repository, upload_id, offset)
            await pump_body(request, writer, max_total=max_blob, expected=expected)
            await in_thread(writer.close)
            info = await in_thread(service.upload_status, repository, upload_id)
            return empty(202, _session_headers(repository, info))
        # PUT: an optional last chunk, then verify and publish.
        digest = request.query_params.get("digest")
        if not digest:
            raise DigestInvalid("PUT must name the blob's digest (?digest=)")
        Digest.parse(digest)
        if length or offset is not None or "transfer-encoding" in request.headers:
            writer = await in_thread(service.append_upload, repository, upload_id, offset)
            await pump_body(request, writer, max_total=max_blob, expected=expected)
            await in_thread(writer.close)
        blob = await in_thread(service.finish_upload, repository, upload_id, digest)
        return _created(repository, blob)

    return [
        Route("/{name:path}/blobs/uploads/", start, methods=["POST"]),
        Route("/{name:path}/blobs/uploads/{upload_id}", session,
              methods=["GET", "PATCH", "PUT", "DELETE"]),
    ]
