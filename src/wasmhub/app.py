"""create_app(settings) -> the ASGI application: registry on /v2/, REST API on /api/, UI on /."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from wasmhub.api import create_api
from wasmhub.deploy.serving import module_routes
from wasmhub.hub import Hub
from wasmhub.registry.routes import registry_mount
from wasmhub.settings import Settings, load_settings
from wasmhub.web import create_web_app

SETTINGS_ENV = "WASMHUB_SERVE_SETTINGS_JSON"


def _operations_routes(hub: Hub) -> list[BaseRoute]:
    """/healthz, /readyz and /metrics (wasmhub.ops.health)."""
    from wasmhub.ops import health

    return health.routes(hub)


def _observe(app: Starlette, hub: Hub) -> None:
    """Request ids, metrics and the access log around every request; pool and event
    metrics (wasmhub.ops)."""
    from wasmhub.ops import metrics
    from wasmhub.ops.middleware import ObservabilityMiddleware

    app.add_middleware(ObservabilityMiddleware, settings=hub.settings)
    metrics.instrument_pool(hub.database.engine)
    hub.events.observer = metrics.observe_event


def create_app(settings: Settings, hub: Hub | None = None) -> Starlette:
    hub = hub or Hub.open(settings)
    routes: list[BaseRoute] = _operations_routes(hub)
    routes.append(registry_mount(hub))
    routes.extend(module_routes())  # raw modules by sha256 for proxies (docs/deploy.md)
    routes.append(Mount("/api", app=create_api(hub)))
    routes.append(Mount("/", app=create_web_app(hub)))  # last: the UI takes what is left
    opened = hub

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        opened.close()
        _worker_exited()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.hub = hub
    _observe(app, hub)
    return app


def _worker_exited() -> None:
    from wasmhub.ops import metrics

    metrics.worker_exited(os.getpid())


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
