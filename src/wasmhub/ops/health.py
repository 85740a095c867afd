"""``/healthz`` (the process answers), ``/readyz`` (its dependencies answer) and
``/metrics`` (Prometheus text exposition)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wasmhub import __version__
from wasmhub.ops import metrics
from wasmhub.ops.shared import redis_client

if TYPE_CHECKING:
    from wasmhub.hub import Hub


def _timed(check: Callable[[], None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means not ready; say which and why
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "seconds": round(time.perf_counter() - started, 4)}


def readiness(hub: Hub) -> dict[str, dict[str, object]]:
    """Each dependency's state: the database, the blob store and (when set) Redis."""

    def database() -> None:
        with hub.database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks = {"database": _timed(database), "storage": _timed(hub.storage.check)}
    if hub.settings.redis_url:
        client = redis_client(hub.settings.redis_url)

        def ping() -> None:
            client.ping()

        checks["redis"] = _timed(ping)
    return checks


def routes(hub: Hub) -> list[BaseRoute]:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> JSONResponse:
        checks = await run_in_threadpool(readiness, hub)
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=content_type)

    found: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if hub.settings.metrics_enabled:
        found.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    return found
