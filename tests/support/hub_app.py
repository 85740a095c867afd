"""Fixtures for the hub app in-process (both database backends) and its catalog service.

Shared by tests/api and tests/web: each conftest imports ``client`` and ``catalog``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

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
