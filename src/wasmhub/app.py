"""create_app(settings) -> the ASGI application: registry on /v2/, REST API on /api/, UI on /."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from wasmhub.api import create_api
from wasmhub.authz.identity import TOKEN_PATH
from wasmhub.authz.middleware import PrincipalMiddleware
from wasmhub.authz.token_endpoint import make_token_endpoint
from wasmhub.deploy.serving import module_routes
from wasmhub.hub import Hub
from wasmhub.local_hub import forget_serving, record_serving
from wasmhub.registry.maintenance import sweep_uploads
from wasmhub.registry.routes import registry_mount
from wasmhub.settings import Settings, load_settings
from wasmhub.web import create_web_app
from wasmhub.web.security import HardenResponses

SETTINGS_ENV = "WASMHUB_SERVE_SETTINGS_JSON"
log = logging.getLogger(__name__)


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


class RejectNul:
    """Refuses (400) any request whose path or query holds a NUL byte, before a handler
    sees it: no database stores or compares text with NUL (PostgreSQL raises), no file
    name may hold one, and no legitimate client sends one. Each surface answers in its own
    format, through its own error mapper."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            in_path = "\x00" in scope["path"]
            query: bytes = scope.get("query_string", b"")
            in_query = b"\x00" in query or b"\x00" in unquote_to_bytes(query)
            if in_path or in_query:
                where = "path" if in_path else "query"
                response = _nul_response(Request(scope, receive), where)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_response(request: Request, where: str) -> Response:
    message = f"the request {where} contains a NUL byte (%00), which no name or value may hold"
    path = request.url.path
    if path == "/v2" or path.startswith("/v2/"):
        from wasmhub.oci.errors import NameInvalid, Unsupported
        from wasmhub.registry.base import API_VERSION, error_response

        error = NameInvalid(message) if where == "path" else Unsupported(message, status=400)
        response = error_response(error)
        response.headers.append(*API_VERSION)
        return response
    if path == "/api" or path.startswith("/api/"):
        from wasmhub.api.problems import problem

        return problem(400, message, slug="nul-byte")
    from wasmhub.web import error_page

    return error_page(request, 400, message)


async def sweep_uploads_forever(hub: Hub) -> None:
    """Remove idle upload sessions every so often (a tenth of the expiry, 1 s to 5 min),
    in a worker thread; one failed sweep is logged and the next one tries again."""
    expiry = hub.settings.upload_session_expiry_seconds
    interval = min(max(expiry / 10, 1.0), 300.0)
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await run_in_threadpool(sweep_uploads, hub, expiry)
        except Exception:
            log.exception("sweeping idle upload sessions failed")
            continue
        if removed:
            log.info("removed %d upload session(s) idle for over %g s", len(removed), expiry)


def create_app(settings: Settings, hub: Hub | None = None) -> Starlette:
    hub = hub or Hub.open(settings)
    routes: list[BaseRoute] = _operations_routes(hub)
    routes.append(Route(TOKEN_PATH, make_token_endpoint(hub.identity), methods=["GET", "POST"]))
    routes.append(registry_mount(hub))
    routes.extend(module_routes())  # raw modules by sha256 for proxies (docs/deploy.md)
    routes.append(Mount("/api", app=create_api(hub)))
    routes.append(Mount("/", app=create_web_app(hub)))  # last: the UI takes what is left
    opened = hub

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_uploads_forever(opened))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            opened.close()
            _worker_exited()

    # One principal per request, for every mount (authz.middleware), resolved after the
    # boundary checks.
    middleware = [Middleware(HardenResponses), Middleware(RejectNul),
                  Middleware(PrincipalMiddleware, identity=hub.identity)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
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
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def announce(running: Starlette) -> AsyncIterator[Any]:
        # Lets `wasmhub search` etc. find this hub (wasmhub.local_hub).
        async with inner(running) as state:
            record_serving(settings)
            try:
                yield state
            finally:
                forget_serving(settings)

    app.router.lifespan_context = announce
    # Everything built so far lives as long as the process; keep the collector from
    # rescanning it. Under load, full collections ran about every 0.5 s and took
    # ~100 ms each, which set the server's p99 (bench/registry.py --profile).
    gc.collect()
    gc.freeze()
    return app
