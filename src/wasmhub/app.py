"""create_app(settings) -> the ASGI application: registry on /v2/, REST API on /api/, UI on /."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from wasmhub import __version__
from wasmhub.api import create_api
from wasmhub.authz.identity import TOKEN_PATH
from wasmhub.authz.middleware import PrincipalMiddleware
from wasmhub.authz.token_endpoint import make_token_endpoint
from wasmhub.deploy.serving import module_routes
from wasmhub.hub import Hub
from wasmhub.registry.routes import registry_mount
from wasmhub.settings import Settings, load_settings
from wasmhub.web import create_web_app

SETTINGS_ENV = "WASMHUB_SERVE_SETTINGS_JSON"


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "version": __version__})


def create_app(settings: Settings, hub: Hub | None = None) -> Starlette:
    hub = hub or Hub.open(settings)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(TOKEN_PATH, make_token_endpoint(hub.identity), methods=["GET", "POST"]),
    ]
    routes.append(registry_mount(hub))
    routes.extend(module_routes())  # raw modules by sha256 for proxies (docs/deploy.md)
    routes.append(Mount("/api", app=create_api(hub)))
    routes.append(Mount("/", app=create_web_app(hub)))  # last: the UI takes what is left
    opened = hub

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        opened.close()

    # One principal per request, for every mount (authz.middleware).
    middleware = [Middleware(PrincipalMiddleware, identity=hub.identity)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.hub = hub
    return app


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` worker processes spawned by ``wasmhub serve``."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings(**json.loads(raw)) if raw else load_settings()
    app = create_app(settings)
    # Everything built so far lives as long as the process; keep the collector from
    # rescanning it. Under load, full collections ran about every 0.5 s and took
    # ~100 ms each, which set the server's p99 (bench/registry.py --profile).
    gc.collect()
    gc.freeze()
    return app
