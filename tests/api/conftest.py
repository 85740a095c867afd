"""An in-process hub app (both database backends) and its catalog service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.catalog.wasm_server import web
from wasmhub.app import create_app
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def catalog(client: TestClient) -> CatalogService:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    return CatalogService(hub)


__all__ = ["catalog", "client", "web"]
