"""Catalog test fixtures: the loopback .wasm server."""

from __future__ import annotations

from tests.catalog.wasm_server import web

__all__ = ["web"]
