"""Must show: the rendered Envoy Bootstrap runs in a real Envoy 1.40, which fetches the
add-header sample from a running ``wasmhub serve`` by URL + sha256 and applies it to a
real request through to a loopback upstream."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from tests.support.servers import REPO_ROOT, free_port, serving_http
from wasmhub.deploy import render
from wasmhub.deploy.resolve import resolve
from wasmhub.deploy.schemas import envoy_problems
from wasmhub.deploy.spec import parse_deployment

from .conftest import PublishedHub

ENVOY = REPO_ROOT / ".venv" / "bin" / "envoy"
READY_TIMEOUT = 240.0  # V8 compiles the module; tens of seconds on a busy machine

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ENVOY.exists(), reason="no envoy")]


class Echo(BaseHTTPRequestHandler):
    """Answers every request with the request headers it received, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def upstream() -> Iterator[int]:
    with serving_http(Echo) as port:
        yield port


def _wait_ready(process: subprocess.Popen[bytes], admin: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"envoy exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{admin}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"envoy not ready in {READY_TIMEOUT}s:\n{log.read_text()[-4000:]}")


def test_real_envoy_runs_the_rendered_bootstrap(
    published_hub: PublishedHub, upstream: int, tmp_path: Path
) -> None:
    resolved = resolve(published_hub.ref)  # the catalog API + /modules/, bytes verified
    assert resolved.report is not None and resolved.report.is_proxy_wasm
    listen, admin = free_port(), free_port()
    deployment = parse_deployment({
        "name": "add-header", "platform": "envoy",
        "plugin": resolved.ref.model_dump(by_alias=True),
        "config": resolved.example_config, "rootId": resolved.root_id,
        "targets": {"envoy": {"listenAddress": "127.0.0.1", "listenPort": listen,
                              "upstreamAddress": "127.0.0.1", "upstreamPort": upstream,
                              "adminAddress": "127.0.0.1", "adminPort": admin}},
    })
    bootstrap = render(deployment).resources[0]
    assert envoy_problems("envoy.config.bootstrap.v3.Bootstrap", bootstrap.document) == []
    remote = (bootstrap.document["static_resources"]["listeners"][0]["filter_chains"][0]
              ["filters"][0]["typed_config"]["http_filters"][0]["typed_config"]["config"]
              ["vm_config"]["code"]["remote"])
    assert remote["http_uri"]["uri"] == (
        f"{published_hub.server.url}/modules/sha256:{resolved.ref.module_sha256}.wasm")
    config = tmp_path / "envoy-bootstrap.yaml"
    config.write_text(bootstrap.yaml())
    log = tmp_path / "envoy.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ENVOY), "-c", str(config), "--disable-hot-restart", "--concurrency", "1",
             "-l", "info"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ},
        )
    try:
        _wait_ready(process, admin, log)
        response = httpx.get(f"http://127.0.0.1:{listen}/hello",
                             headers={"x-debug": "drop me"}, timeout=60)
        assert response.status_code == 200, response.text
        seen = response.json()  # what the upstream received
        assert seen["x-hello"] == "world"  # request_headers_to_add
        assert "x-debug" not in seen  # request_headers_to_remove
        assert response.headers["x-powered-by"] == "wasmhub"  # response_headers_to_add
        stats = httpx.get(f"http://127.0.0.1:{admin}/stats",
                          params={"filter": "wasm"}, timeout=30).text
        counters = dict(line.split(": ", 1) for line in stats.splitlines() if ": " in line)
        # Envoy fetched the code once, from the hub's cluster, and V8 runs it.
        assert counters["wasm.remote_load_fetch_successes"] == "1", stats
        assert counters["wasm.remote_load_fetch_failures"] == "0", stats
        assert counters["cluster.wasmhub.upstream_rq_200"] == "1", stats
        assert int(counters["wasm.envoy.wasm.runtime.v8.active"]) >= 1, stats
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # The module Envoy ran came from the hub's /modules/ (extracted there on first fetch).
    assert (published_hub.data_dir / "modules" / f"{resolved.ref.module_sha256}.wasm").exists()
