"""An in-process hub app (both database backends), its catalog service, the .wasm server."""

from __future__ import annotations

from tests.catalog.wasm_server import web
from tests.support.hub_app import catalog, client

__all__ = ["catalog", "client", "web"]
