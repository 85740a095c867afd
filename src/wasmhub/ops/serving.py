"""What ``wasmhub serve`` sets up around uvicorn: the shared metrics directory of its
workers, the log configuration and graceful shutdown.

Imports nothing of prometheus-client: ``PROMETHEUS_MULTIPROC_DIR`` must be set before
that library is first imported in a process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wasmhub.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh directory the workers share for their metrics (removed afterwards), or
    the one the operator named in ``PROMETHEUS_MULTIPROC_DIR`` (kept)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given)
        return
    directory = Path(tempfile.mkdtemp(prefix="wasmhub-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Logging (text or JSON, with request ids) and graceful shutdown: on SIGTERM the
    server stops accepting and lets in-flight requests (uploads included) finish for
    up to ``shutdown_grace_seconds``."""
    from wasmhub.ops.logs import log_config

    return {
        "log_config": log_config(settings),
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "access_log": False,  # wasmhub.access (ObservabilityMiddleware) has request ids
    }
