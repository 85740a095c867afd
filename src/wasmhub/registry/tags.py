"""``/v2/<name>/tags/list``: the repository's tags in byte order, paginated by ``n``/``last``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wasmhub.registry.base import (
    endpoint,
    in_thread,
    json_response,
    next_link,
    page_args,
    path_param,
)
from wasmhub.registry.service import RegistryService


def routes(service: RegistryService) -> list[Route]:
    @endpoint
    async def tags_list(request: Request) -> Response:
        repository = path_param(request, "name")
        n, last = page_args(request)
        page = await in_thread(service.tags_page, repository, n, last)
        headers = (
            next_link(f"/v2/{repository}/tags/list", n, page.items[-1])
            if page.more and page.items else {}
        )
        return json_response({"name": repository, "tags": page.items}, headers)

    return [Route("/{name:path}/tags/list", tags_list, methods=["GET"])]
