"""The hub app in-process (both database backends), with a seeded catalog."""

from __future__ import annotations

import pytest

from tests.catalog.wasm_server import web
from tests.support.hub_app import catalog, client
from tests.web.seed import seed_catalog
from wasmhub.catalog.service import CatalogService

__all__ = ["catalog", "client", "web"]


@pytest.fixture
def seeded(catalog: CatalogService) -> CatalogService:
    seed_catalog(catalog)
    return catalog
