"""A scaled-out hub on loopback: N ``wasmhub serve`` replicas on one PostgreSQL database,
one S3 bucket (moto's emulator) and Redis, behind nginx as a round-robin load balancer.

Used by the interop tests (as one more registry kind), the replica tests and
bench/rollout.py. Every process is stopped when the context exits.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.s3 import S3Endpoint
from tests.support.servers import RunningServer, free_port, running_wasmhub, wait_until_up

REDIS_URL = "redis://127.0.0.1:6379/0"
UPSTREAM_HEADER = "X-Wasmhub-Upstream"

NGINX_CONFIG = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream wasmhub {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        # Stream uploads through as they arrive; buffer responses in memory only (with
        # buffering off nginx relays a blob in proxy_buffer_size pieces, 4 KiB each).
        proxy_request_buffering off;
        proxy_buffering on;
        proxy_buffer_size 256k;
        proxy_buffers 16 256k;
        proxy_busy_buffers_size 512k;
        proxy_max_temp_file_size 0;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_read_timeout 300s;
        # Which replica answered (the tests check that chunks alternate).
        add_header {header} $upstream_addr always;
        location / {{
            proxy_pass http://wasmhub;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.fail("nginx is not installed; scripts/bootstrap --test installs it with apt")
    return path


@contextmanager
def running_nginx(root: Path, upstream_ports: list[int]) -> Iterator[RunningServer]:
    """nginx on a free loopback port, round robin over ``upstream_ports``."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"
                        for p in upstream_ports)
    config = root / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(root=root, port=port, servers=servers,
                                          header=UPSTREAM_HEADER))
    log_path = root / "nginx.out"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([nginx_binary(), "-c", str(config), "-p", str(root)],
                                stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer("nginx", f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        wait_until_up(server, "/healthz")
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Cluster:
    lb: RunningServer
    replicas: list[RunningServer]
    env: dict[str, str]
    database_url: str

    @property
    def url(self) -> str:
        return self.lb.url

    @property
    def host(self) -> str:
        return self.lb.host


def cluster_env(s3: S3Endpoint, bucket: str, *, workers: int = 1) -> dict[str, str]:
    return {**s3.env(bucket), "WASMHUB_REDIS_URL": REDIS_URL,
            "WASMHUB_WORKERS": str(workers), "WASMHUB_SHUTDOWN_GRACE_SECONDS": "10"}


def wait_ready(server: RunningServer, timeout: float = 60.0) -> None:
    """Until ``/readyz`` says 200 (database, bucket and Redis reachable)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(server.url + "/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} on {server.url} not ready in {timeout}s: {last}")


@contextmanager
def running_cluster(root: Path, database_url: str, s3: S3Endpoint, *, replicas: int = 2,
                    workers: int = 1, bucket: str | None = None) -> Iterator[Cluster]:
    """``replicas`` wasmhub processes (each ``workers`` workers) behind nginx."""
    env = cluster_env(s3, bucket or s3.new_bucket(), workers=workers)
    # Replicas must accept each other's registry tokens: one shared signing-key file, as a
    # mounted secret would be (docs/scaling.md).
    env["WASMHUB_REGISTRY_KEY_FILE"] = str(root / "shared-secrets" / "registry-keys.json")
    with ExitStack() as stack:
        servers = [
            stack.enter_context(running_wasmhub(root / f"replica-{n}", database_url,
                                                extra_env=env))
            for n in range(replicas)
        ]
        for server in servers:
            wait_ready(server)
        lb = stack.enter_context(running_nginx(root / "nginx", [s.port for s in servers]))
        yield Cluster(lb, servers, env, database_url)
