"""Envoy fleet: a version swap over ECDS under load.

``.venv/bin/python bench/fleet.py [--seconds 20] [--connections 16]``: a ``wasmhub serve
--xds-port`` with the add-header sample, one Envoy 1.40 bootstrapped from ``wasmhub deploy
envoy --xds`` (delta xDS) in front of a direct-response Envoy, loaded with wrk over loopback
(one thread, c connections) in three back-to-back runs — before (30% of the time), during
(40%: the deployment moves to a new revision a quarter into it) and after (30%) — each with
its requests/s, p99, non-2xx responses and socket errors; plus the time from the change to
the proxy's ACK. Everything is bounded: wrk runs for the given seconds, every wait has a
deadline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fleet.conftest import (
    FleetHub,
    Proxy,
    _sample,
    wait_for,
)
from tests.support.accounts import make_user, token_headers
from tests.support.servers import REPO_ROOT, free_port

from wasmhub.build import build_project
from wasmhub.catalog.seed import seed_samples
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.runtime.envoy import EnvoyHost, direct_response
from wasmhub.settings import Settings

PATH = "/fleet/deployments/library/bench-headers"
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_REQUESTS = re.compile(r"(\d+) requests in")


@dataclass
class Phase:
    name: str
    seconds: int
    requests: int
    rps: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def row(self) -> str:
        return (f"| {self.name} | {self.seconds} s | {self.requests:,} | {self.rps:,.0f} | "
                f"{self.p99_ms:.2f} ms | {self.non_2xx} | {self.socket_errors} |")


def wrk(name: str, port: int, seconds: int, connections: int) -> Phase:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
               f"http://127.0.0.1:{port}/bench"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=True)
    text = done.stdout
    rps, p99, requests = _RPS.search(text), _P99.search(text), _REQUESTS.search(text)
    if rps is None or p99 is None or requests is None:
        raise RuntimeError(f"unreadable wrk output:\n{text}{done.stderr}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = _NON2XX.search(text)
    socket = _SOCKET.search(text)
    return Phase(name, seconds, int(requests.group(1)), float(rps.group(1)),
                 float(p99.group(1)) * scale, int(non_2xx.group(1)) if non_2xx else 0,
                 sum(int(g) for g in socket.groups()) if socket else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, choices=range(5, 121),
                        metavar="5-120")
    parser.add_argument("--connections", type=int, default=16, choices=range(1, 257),
                        metavar="1-256")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/fleet.py needs wrk (/usr/bin/wrk)")
    with tempfile.TemporaryDirectory(prefix="wasmhub-fleet-bench-") as tmp:
        base = Path(tmp)
        module = base / "plugin.wasm"
        build_project(REPO_ROOT / "examples" / "add-header", module, sink=lambda _line: None)
        examples = base / "examples"
        _sample(examples, REPO_ROOT / "examples" / "add-header", module.read_bytes(),
                lambda meta: None, "add-header")
        data_dir = base / "data"
        hub = Hub.open(Settings(data_dir=data_dir))
        try:
            upgrade(hub.database)
            seed_samples(hub, examples)
            make_user(hub, "ops")
            token = token_headers(hub, "ops")["Authorization"].removeprefix("Bearer ")
        finally:
            hub.close()
        import base64
        import json

        port = free_port()
        docker = base / "docker"
        docker.mkdir()
        auth = base64.b64encode(f"ops:{token}".encode()).decode()
        (docker / "config.json").write_text(json.dumps(
            {"auths": {f"127.0.0.1:{port}": {"auth": auth}}}))
        fleet = FleetHub(data_dir, port, free_port(), docker,
                         {"Authorization": f"Basic {auth}"}, {})
        fleet.start()
        proxy: Proxy | None = None
        try:
            with EnvoyHost(None, 0, config=direct_response(), log_level="warning") as backend:
                listen, admin = free_port(), free_port()
                target = base / "proxy"
                fleet.cli("deploy", "envoy", f"127.0.0.1:{port}/library/add-header:0.1.0",
                          "--xds", "--name", "bench-headers", "--apply", "--listen-port",
                          str(listen), "--admin-port", str(admin), "--upstream",
                          f"127.0.0.1:{backend.port}", "-o", str(target))
                bootstrap = target / "envoy-bootstrap.yaml"
                bootstrap.write_text(bootstrap.read_text().replace(
                    "address: 0.0.0.0", "address: 127.0.0.1"))
                proxy = Proxy("bench-1", bootstrap, listen, admin, base / "envoy.log")
                proxy.start()
                wait_for("the filter serves", lambda: proxy is not None and proxy.get()
                         .headers.get("x-powered-by") == "wasmhub")
                pid = proxy.pid
                wrk("warm-up", listen, 2, args.connections)
                before = wrk("before", listen, round(args.seconds * 0.3), args.connections)
                swap: dict[str, float] = {}

                def change() -> None:
                    time.sleep(args.seconds * 0.4 / 4)
                    current = fleet.api("GET", PATH)
                    spec = dict(current["stable"]["spec"])
                    spec["config"] = {"response_headers_to_add": {"x-powered-by": "v2"}}
                    started = time.monotonic()
                    revision = fleet.api("PUT", PATH, {"spec": spec})["candidate"]["revision"]
                    wait_for("the ACK", lambda: fleet.api("GET", PATH)["nodes"][0]["configs"][
                        0]["acked_revision"] == revision, timeout=60)
                    swap["ack_s"] = time.monotonic() - started

                changer = threading.Thread(target=change)
                changer.start()
                during = wrk("during (swap)", listen, round(args.seconds * 0.4),
                             args.connections)
                changer.join(timeout=90)
                after = wrk("after", listen, args.seconds - before.seconds - during.seconds,
                            args.connections)
                served = proxy.get().headers.get("x-powered-by")
                same_pid = proxy.pid == pid and proxy.process is not None and \
                    proxy.process.poll() is None
        finally:
            if proxy is not None:
                proxy.stop()
            fleet.kill()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"`.venv/bin/python bench/fleet.py --seconds {args.seconds} --connections "
          f"{args.connections}`: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} vCPUs, load average {load}. wrk -t1 -c{args.connections} "
          "through one Envoy 1.40 (one worker, V8) with the add-header filter from ECDS "
          "(delta), in front of a direct-response Envoy.\n")
    print("| phase | duration | requests | req/s | p99 | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for phase in (before, during, after):
        print(phase.row())
    print(f"\nchange -> ACK: {swap.get('ack_s', float('nan')):.2f} s; after the swap the proxy "
          f"serves x-powered-by: {served}; same Envoy process: {same_pid}")


if __name__ == "__main__":
    main()
