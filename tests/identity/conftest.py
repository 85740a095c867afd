"""Identity fixtures: a production-like hub (no open namespaces, open sign-up) in-process,
on SQLite and PostgreSQL, and the populated :class:`tests.identity.world.World`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.identity.world import World, build_world
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@pytest.fixture
def secure_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    open_namespaces=False, signup="open")  # type: ignore[arg-type]


@pytest.fixture
def secure_client(secure_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(secure_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def secure_hub(secure_client: TestClient) -> Hub:
    hub: Hub = secure_client.app.state.hub  # type: ignore[attr-defined]
    return hub


@pytest.fixture
def world(secure_hub: Hub, secure_client: TestClient) -> World:
    return build_world(secure_hub, secure_client)
