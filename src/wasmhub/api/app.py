"""create_api(hub) -> the FastAPI application that serves ``/api`` (v1 routes, OpenAPI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from wasmhub import __version__
from wasmhub.api.docs import install_docs
from wasmhub.api.fleet_routes import fleet_router
from wasmhub.api.identity import router as identity_router
from wasmhub.api.playground import router as playground_router
from wasmhub.api.problems import install_problem_handlers
from wasmhub.api.routes import router
from wasmhub.api.trust_routes import trust_router
from wasmhub.catalog.service import CatalogService

if TYPE_CHECKING:
    from wasmhub.hub import Hub


def create_api(hub: Hub, catalog: CatalogService | None = None) -> FastAPI:
    """The REST API over ``hub``; mount it at ``/api`` (docs and spec are relative)."""
    api = FastAPI(
        title="wasmhub API",
        version=__version__,
        summary="Find, inspect, star and register proxy-wasm plugins.",
        description=(
            "REST v1 of the wasmhub plugin catalog and its accounts. Errors are "
            "application/problem+json. Authenticate with an API token "
            "(Authorization: Bearer whub_…), Basic credentials, or a browser session "
            "(state-changing calls then need the X-CSRF-Token header). Private plugins "
            "are 404 to whoever may not read them."
        ),
        openapi_url="/openapi.json",
        docs_url=None,  # served by wasmhub.api.docs, from the hub itself
        redoc_url=None,
    )
    api.state.hub = hub
    api.state.catalog = catalog or CatalogService(hub)
    install_problem_handlers(api)
    # Before ``router``: its ``/plugins/{namespace}/{name:path}`` would match the
    # signatures path of a version first.
    api.include_router(trust_router)
    api.include_router(fleet_router)
    api.include_router(playground_router)  # before router: its {name:path} routes are greedy
    api.include_router(router)
    install_docs(api)
    api.include_router(identity_router)
    return api
