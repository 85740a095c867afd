"""Real registries for interop tests: wasmhub on SQLite and PostgreSQL, and the CNCF peer.

``registry_server`` is session-scoped per kind (starting a server is the slow part); every
test pushes to its own repository name (``repo`` fixture), so tests stay independent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.cluster import running_cluster
from tests.support.servers import RunningServer, running_distribution, running_wasmhub

POSTGRES_ADMIN_URL = os.environ.get(
    "WASMHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# wasmhub-cluster: two replicas behind nginx on PostgreSQL, S3 (moto) and Redis.
REGISTRY_KINDS = ["distribution", "wasmhub-sqlite", "wasmhub-postgresql", "wasmhub-cluster"]


def _selected_kinds() -> list[str]:
    backends = os.environ.get("WASMHUB_TEST_BACKENDS", "sqlite,postgresql")
    if os.environ.get("CI"):
        backends = "sqlite,postgresql"
    chosen = {b.strip() for b in backends.split(",")}
    needs = {"wasmhub-sqlite": "sqlite", "wasmhub-postgresql": "postgresql",
             "wasmhub-cluster": "postgresql"}
    return [k for k in REGISTRY_KINDS if k not in needs or needs[k] in chosen]


@contextmanager
def private_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one server (``serve`` migrates it), dropped
    afterwards. Private so that a long-lived interop server never shares rows with the
    per-test databases other tests (and ``fsck``) look at."""
    admin_url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    name = f"wasmhub_interop_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # environment problem: say it plainly
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ), {"name": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session", params=_selected_kinds())
def registry_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(kind)
    if kind == "distribution":
        with running_distribution(root) as server:
            yield server
    elif kind == "wasmhub-cluster":
        s3 = request.getfixturevalue("s3_endpoint")
        with private_postgres_database() as url, running_cluster(root, url, s3) as cluster:
            yield cluster.lb
    elif kind == "wasmhub-sqlite":
        with running_wasmhub(root / "data", f"sqlite:///{root / 'wasmhub.db'}") as server:
            yield server
    else:
        with private_postgres_database() as url, running_wasmhub(root / "data", url) as server:
            yield server


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A fresh repository name (two path components, lower case) for this test."""
    stem = request.node.originalname.removeprefix("test_").replace("_", "-")[:40]
    return f"interop/{stem}-{uuid.uuid4().hex[:8]}"
