"""The hub's Prometheus metrics (names documented in docs/operations.md).

Multiprocess-safe: ``wasmhub serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory before any worker imports this module, so every worker writes its samples
there and ``/metrics``, answered by whichever worker, aggregates all of them
(prometheus-client's multiprocess mode). Without the variable (tests, one process) the
default registry is used.
"""

from __future__ import annotations

import os
import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wasmhub import __version__
from wasmhub.ops.serving import MULTIPROC_ENV

REQUESTS = Counter(
    "wasmhub_http_requests_total", "HTTP requests answered, by route family.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "wasmhub_http_request_duration_seconds",
    "Time from request start to the last response byte, by route family.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BYTES_SERVED = Counter(
    "wasmhub_http_response_bytes_total", "Response body bytes sent, by route family.",
    ["route"],
)
UPLOADS_IN_FLIGHT = Gauge(
    "wasmhub_uploads_in_flight", "Blob upload requests whose body is being received.",
    multiprocess_mode="livesum",
)
EVENT_HANDLER = Histogram(
    "wasmhub_event_handler_seconds",
    "Time an event subscriber took for one registry event (the catalog's lag behind a "
    "push, pull or delete), by event.",
    ["event"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)
EVENT_FAILURES = Counter(
    "wasmhub_event_handler_failures_total", "Event subscribers that raised, by event.",
    ["event"],
)
DB_POOL_CHECKED_OUT = Gauge(
    "wasmhub_db_pool_connections_in_use", "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_OPEN = Gauge(
    "wasmhub_db_pool_connections_open", "Database connections the pool holds open.",
    multiprocess_mode="livesum",
)
BUILD = Gauge(
    "wasmhub_build_info", "Always 1; the version is a label.", ["version"],
    multiprocess_mode="max",
)
BUILD.labels(__version__).set(1)

# Route families: a bounded label set (repository names never become labels).
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/v2/?$"), "v2_base"),
    (re.compile(r"^/v2/_catalog$"), "v2_catalog"),
    (re.compile(r"^/v2/.+/blobs/uploads/"), "v2_uploads"),
    (re.compile(r"^/v2/.+/blobs/"), "v2_blobs"),
    (re.compile(r"^/v2/.+/manifests/"), "v2_manifests"),
    (re.compile(r"^/v2/.+/tags/list$"), "v2_tags"),
    (re.compile(r"^/v2/.+/referrers/"), "v2_referrers"),
    (re.compile(r"^/v2/"), "v2_other"),
    (re.compile(r"^/api/"), "api"),
    (re.compile(r"^/(healthz|readyz|metrics)$"), "ops"),
    (re.compile(r"^/static/"), "static"),
)


def route_family(path: str) -> str:
    for pattern, family in _FAMILIES:
        if pattern.match(path):
            return family
    return "web"


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (in-flight uploads, pool use)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def exposition() -> tuple[bytes, str]:
    """The text exposition of every worker's metrics, and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def instrument_pool(engine: Engine) -> None:
    """Track the connection pool of ``engine``: after every checkout, checkin, connect and
    close the gauges are set from the pool's own counts (so connections opened before
    this call cannot make them drift)."""
    pool = engine.pool
    checked_out = getattr(pool, "checkedout", None)
    checked_in = getattr(pool, "checkedin", None)
    if checked_out is None or checked_in is None:
        return  # a pool without counts (SQLite in memory): nothing to report

    def update(returning: int) -> None:
        # ``returning``: the checkin event fires before the connection is back in the pool.
        in_use = int(checked_out()) - returning
        DB_POOL_CHECKED_OUT.set(max(in_use, 0))
        DB_POOL_OPEN.set(max(in_use, 0) + int(checked_in()) + returning)

    def after_checkout(*_args: Any) -> None:
        update(0)

    def before_return(*_args: Any) -> None:
        update(1)

    event.listen(engine, "checkout", after_checkout)
    event.listen(engine, "checkin", before_return)


def observe_event(name: str, seconds: float, failed: bool) -> None:
    """``EventBus.observer``: one subscriber's run on one event."""
    EVENT_HANDLER.labels(name).observe(seconds)
    if failed:
        EVENT_FAILURES.labels(name).inc()
