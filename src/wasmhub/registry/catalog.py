"""``/v2/_catalog``: every repository in byte order, paginated by ``n``/``last``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmhub.registry.auth import READ_SCOPE_KEY
from wasmhub.registry.base import endpoint, in_thread, json_response, next_link, page_args
from wasmhub.registry.service import RegistryService


def routes(service: RegistryService) -> list[Route]:
    @endpoint
    async def catalog(request: Request) -> Response:
        n, last = page_args(request)
        # The access gate (registry.auth) left what the caller may read in the scope.
        page = await in_thread(service.repositories_page, n, last,
                               request.scope.get(READ_SCOPE_KEY))
        headers = next_link("/v2/_catalog", n, page.items[-1]) if page.more and page.items else {}
        return json_response({"repositories": page.items}, headers)

    return [Route("/_catalog", catalog, methods=["GET"])]
