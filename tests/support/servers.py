"""Real server processes for interop tests: ``wasmhub serve`` and the CNCF registry.

Each starts on a free loopback port with its own temporary storage and is stopped (and
waited for) when the context exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form OCI clients take."""
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


def wait_until_up(server: RunningServer, path: str = "/v2/", timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log()}")
        try:
            httpx.get(server.url + path, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(
        f"{server.name} did not answer on {server.url} in {timeout}s:\n{server.log()}"
    )


def wasmhub_command() -> list[str]:
    exe = Path(sys.executable).parent / "wasmhub"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "wasmhub"]


@contextmanager
def running_wasmhub(
    data_dir: Path, database_url: str | None = None, *, extra_env: dict[str, str] | None = None,
    port: int | None = None, ready_timeout: float = 120.0,
) -> Iterator[RunningServer]:
    """``wasmhub serve`` on a free port; waits (generously: start-up on a loaded 2-core
    machine takes tens of seconds) until it answers."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WASMHUB_DATA_DIR": str(data_dir), "WASMHUB_PORT": str(port),
           "WASMHUB_HOST": "127.0.0.1",
           # A development hub unless the test says otherwise (docs/operations.md).
           "WASMHUB_OPEN_NAMESPACES": "true", **(extra_env or {})}
    if database_url:
        env["WASMHUB_DATABASE_URL"] = database_url
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [*wasmhub_command(), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer("wasmhub", f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        wait_until_up(server, timeout=ready_timeout)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def distribution_binary() -> str:
    path = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(path).exists():
        pytest.fail("docker-registry is not installed; scripts/test installs it with apt")
    return path


@contextmanager
def running_distribution(root: Path, port: int | None = None) -> Iterator[RunningServer]:
    """The CNCF distribution registry (Debian's docker-registry 2.8) on loopback."""
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=root / "storage", port=port))
    log_path = root / "registry.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [distribution_binary(), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer("distribution", f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        wait_until_up(server)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


@contextmanager
def serving_in_thread(app: ASGIApp, name: str, port: int | None = None) -> Iterator[str]:
    """Serve a small ASGI app (a test peer) under uvicorn in a thread; yield its URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A loopback HTTP server (a test upstream) answering with ``handler`` in a thread;
    yield its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
