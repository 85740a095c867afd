"""Fixtures shared by tests/client and tests/cli: a real CNCF registry, auth proxies,
an isolated Docker config directory, and small proxy-wasm modules assembled from WAT."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.authproxy import AuthProxy, running_auth_proxy
from tests.support.servers import RunningServer, running_distribution

PROXY_WASM_WAT = """
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value"
    (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get $n
    i32.add
    global.set $heap
    local.get $p)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    i32.const 0)
  (data (i32.const 16) "%s")
)
"""


def proxy_wasm_module(marker: str = "") -> bytes:
    """A minimal proxy-wasm (ABI 0.2.0) HTTP filter; ``marker`` changes its bytes."""
    import wasmtime

    return bytes(wasmtime.wat2wasm(PROXY_WASM_WAT % marker.replace('"', "")))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_distribution(tmp_path_factory.mktemp("distribution")) as server:
        yield server


@pytest.fixture(scope="session")
def basic_proxy(registry: RunningServer) -> Iterator[AuthProxy]:
    with running_auth_proxy("basic", registry.url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def bearer_proxy(registry: RunningServer) -> Iterator[AuthProxy]:
    with running_auth_proxy("bearer", registry.url) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty, private DOCKER_CONFIG directory."""
    path = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(path))
    return path
