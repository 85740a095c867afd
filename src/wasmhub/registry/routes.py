"""The ``/v2/`` routes table: one entry per resource module, most specific first.

Repository names span several path segments, so every resource route starts with
``{name:path}``; the fixed suffix (``/blobs/uploads/``, ``/manifests/…``) decides the
match, and handlers validate the name against the spec's grammar.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router

from wasmhub.hub import Hub
from wasmhub.oci.errors import NameUnknown, Unsupported
from wasmhub.registry import blobs, catalog, manifests, referrers, tags, uploads
from wasmhub.registry.auth import RegistryGate
from wasmhub.registry.base import endpoint, json_response
from wasmhub.registry.service import RegistryService


@endpoint
async def api_base(request: Request) -> Response:
    """``GET /v2/``: the client's check that this is a v2 registry."""
    return json_response({})


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _fallback(known: list[BaseRoute]) -> Route:
    """Answers what no route took fully, in the OCI envelope instead of plain text:
    405 UNSUPPORTED when a route has the path but not the method, else 404."""

    @endpoint
    async def unmatched(request: Request) -> Response:
        if any(route.matches(request.scope)[0] is Match.PARTIAL for route in known):
            raise Unsupported(f"{request.method} is not supported here")
        raise NameUnknown(f"no registry endpoint at {request.url.path[:200]}")

    return Route("/{path:path}", unmatched, methods=ALL_METHODS)


def registry_routes(service: RegistryService) -> list[BaseRoute]:
    known: list[BaseRoute] = [
        Route("/", api_base, methods=["GET", "HEAD"]),
        *catalog.routes(service),
        *uploads.routes(service),
        *blobs.routes(service),
        *manifests.routes(service),
        *tags.routes(service),
        *referrers.routes(service),
    ]
    return [*known, _fallback(known)]


def registry_mount(hub: Hub) -> Mount:
    """Everything under ``/v2``, backed by one RegistryService for this process, behind
    the access gate (``registry.auth``)."""
    router = Router(routes=registry_routes(RegistryService(hub)))
    return Mount("/v2", app=RegistryGate(router, hub.identity))
