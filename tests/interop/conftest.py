"""Real registries for interop tests: wasmhub on SQLite and PostgreSQL, and the CNCF peer.

``registry_server`` is session-scoped per kind (starting a server is the slow part); every
test pushes to its own repository name (``repo`` fixture), so tests stay independent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.support.servers import RunningServer, running_distribution, running_wasmhub

REGISTRY_KINDS = ["distribution", "wasmhub-sqlite", "wasmhub-postgresql"]


def _selected_kinds() -> list[str]:
    backends = os.environ.get("WASMHUB_TEST_BACKENDS", "sqlite,postgresql")
    if os.environ.get("CI"):
        backends = "sqlite,postgresql"
    chosen = {b.strip() for b in backends.split(",")}
    return [k for k in REGISTRY_KINDS
            if not k.startswith("wasmhub-") or k.removeprefix("wasmhub-") in chosen]


def _empty_postgres(url: str) -> None:
    """Remove every row wasmhub wrote, so the next server starts from an empty hub."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                     "AND tablename <> 'alembic_version'")
            )
        ]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session", params=_selected_kinds())
def registry_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(kind)
    if kind == "distribution":
        with running_distribution(root) as server:
            yield server
    elif kind == "wasmhub-sqlite":
        with running_wasmhub(root / "data", f"sqlite:///{root / 'wasmhub.db'}") as server:
            yield server
    else:
        url: str = request.getfixturevalue("postgres_database")
        _empty_postgres(url)
        try:
            with running_wasmhub(root / "data", url) as server:
                yield server
        finally:
            _empty_postgres(url)


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A fresh repository name (two path components, lower case) for this test."""
    stem = request.node.originalname.removeprefix("test_").replace("_", "-")[:40]
    return f"interop/{stem}-{uuid.uuid4().hex[:8]}"
