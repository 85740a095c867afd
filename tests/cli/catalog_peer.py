"""A small server speaking the catalog contract of docs/interfaces.md section 4.

It serves ``GET /api/v1/plugins`` (``q``, ``category``, ``page``, ``per_page``) and
``GET /api/v1/plugins/{ns}/{name}`` from a list given by the test, answers problem+json
errors, and runs under uvicorn in a thread on loopback. Used to test ``search``/``list``
rendering and paging independently of the hub's own catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import serving_in_thread


def summary(name: str, description: str, *, category: str = "traffic",
            stars: int = 0) -> dict[str, Any]:
    return {
        "namespace": "acme", "name": name,
        "display_name": {"en": name.title(), "zh": None},
        "description": {"en": description, "zh": None},
        "category": category, "latest_version": "1.0.0", "abi_version": "0.2.1",
        "filter_types": ["http"], "stars": stars, "downloads": 3,
        "updated_at": "2026-01-01T00:00:00Z",
    }


def app(plugins: list[dict[str, Any]]) -> Starlette:
    async def list_plugins(request: Request) -> JSONResponse:
        q = request.query_params.get("q", "").lower()
        category = request.query_params.get("category")
        try:
            page = int(request.query_params.get("page", "1"))
            per_page = int(request.query_params.get("per_page", "20"))
        except ValueError:
            return JSONResponse({"type": "about:blank", "title": "Bad Request", "status": 400,
                                 "detail": "page must be an integer"}, 400,
                                media_type="application/problem+json")
        hits = [p for p in plugins
                if (not q or q in p["name"] or q in p["description"]["en"].lower())
                and (not category or p["category"] == category)]
        start = (page - 1) * per_page
        return JSONResponse({"items": hits[start:start + per_page], "total": len(hits),
                             "page": page, "per_page": per_page})

    async def get_plugin(request: Request) -> JSONResponse:
        for p in plugins:
            if (p["namespace"], p["name"]) == (request.path_params["ns"],
                                               request.path_params["name"]):
                return JSONResponse({**p, "versions": []})
        return JSONResponse({"type": "about:blank", "title": "Not Found", "status": 404,
                             "detail": "no such plugin"}, 404,
                            media_type="application/problem+json")

    return Starlette(routes=[Route("/api/v1/plugins", list_plugins),
                             Route("/api/v1/plugins/{ns}/{name}", get_plugin)])


@contextmanager
def running_catalog(plugins: list[dict[str, Any]]) -> Iterator[str]:
    with serving_in_thread(app(plugins), "catalog peer") as url:
        yield url
