"""``/v2/<name>/manifests/<reference>``: GET, HEAD, PUT and DELETE by tag or digest.

GET and HEAD are one database query; on SQLite it runs on the event loop (an indexed read
that never waits for a lock, see ``Database.read_nowait``), elsewhere or when the
database is busy in a worker thread. Tags are resolved by every request, so a push from
another worker process is seen at once. A GET's ManifestFetched event (the catalog's
download count, a database write) is published after the response is sent.

``Accept`` is honoured when it names any manifest type we know: a manifest stored as a
type the client did not list is MANIFEST_UNKNOWN (as distribution does, since we never
convert formats). An ``Accept`` naming none of them (``*/*``, absent, schema 1 only)
gets the manifest as stored.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmhub.oci.errors import ManifestUnknown
from wasmhub.oci.media_types import MANIFEST_MEDIA_TYPES, base_media_type
from wasmhub.registry.base import (
    AfterResponse,
    empty,
    endpoint,
    in_thread,
    path_param,
    read_limited,
)
from wasmhub.registry.records import ManifestRecord
from wasmhub.registry.service import RegistryService

# Downloads waiting to be counted after their responses, per process (see AfterResponse),
# and the threads counting them: one on SQLite (its writes take turns anyway), a few on a
# database server, where each count waits on a network round trip.
MAX_PENDING_DOWNLOADS = 16
DOWNLOAD_LANES_SERVER_DB = 4


def accepted_types(request: Request) -> set[str]:
    accepted: set[str] = set()
    for header in request.headers.getlist("accept"):
        accepted.update(base_media_type(part) for part in header.split(","))
    return accepted


def check_accept(request: Request, record: ManifestRecord) -> None:
    accepted = accepted_types(request) & MANIFEST_MEDIA_TYPES
    if accepted and record.media_type not in accepted:
        raise ManifestUnknown(
            f"manifest is {record.media_type}, which the Accept header does not list",
            detail={"mediaType": record.media_type, "accepted": sorted(accepted)},
        )


def routes(service: RegistryService) -> list[Route]:
    limit = service.max_manifest_bytes
    downloads = AfterResponse(
        MAX_PENDING_DOWNLOADS, lanes=1 if service.db.is_sqlite else DOWNLOAD_LANES_SERVER_DB
    )

    @endpoint
    async def manifest(request: Request) -> Response:
        repository = path_param(request, "name")
        reference = path_param(request, "reference")
        method = request.method
        if method in ("GET", "HEAD"):
            with_payload = method == "GET"
            # On SQLite an indexed read on the event loop; otherwise (or when the
            # database is busy) the same statement in a worker thread.
            record = service.lookup_manifest_nowait(
                repository, reference, with_payload=with_payload
            )
            if record is None:
                record = await in_thread(
                    service.lookup_manifest, repository, reference, with_payload=with_payload
                )
            check_accept(request, record)
            headers = {
                "Docker-Content-Digest": record.digest,
                "ETag": f'"{record.digest}"',
                "Content-Length": str(record.size),
            }
            response = Response(record.payload, headers=headers, media_type=record.media_type)
            if not with_payload:
                return response  # HEAD is not a download
            # The download count (catalog) is written after the response is sent.
            return await downloads.attach(
                response, service.publish_fetched, repository, reference, record
            )
        if method == "DELETE":
            await in_thread(service.delete_manifest, repository, reference)
            return empty(202)
        payload = await read_limited(request, limit)
        result = await in_thread(
            service.push_manifest, repository, reference, payload,
            request.headers.get("content-type", ""),
        )
        headers = {
            "Location": f"/v2/{repository}/manifests/{result.digest}",
            "Docker-Content-Digest": result.digest,
        }
        if result.subject:
            headers["OCI-Subject"] = result.subject
        return empty(201, headers)

    return [
        Route("/{name:path}/manifests/{reference}", manifest,
              methods=["GET", "HEAD", "PUT", "DELETE"]),
    ]
