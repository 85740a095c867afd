"""Ordinary pulls while the hub is under attack, against a real ``wasmhub serve --workers 2``.

    .venv/bin/python bench/robustness.py            # 15 s baseline, 30 s under attack
    .venv/bin/python bench/robustness.py --write    # ... and record the table in docs/benchmarks.md
    .venv/bin/python bench/robustness.py --quick    # 5 s + 10 s, prints only

Everything runs on 127.0.0.1, bounded in count and time. Phases:

1. **baseline**: 4 pull threads loop (manifest GET by tag, then its config and layer blobs,
   each digest checked) for the baseline duration;
2. **attack**: the same pulls, while at once
   - 40 add-by-URL requests (``POST /api/v1/plugins``) point at a loopback server that
     answers ``200 OK`` and then trickles one header byte every 2 s (the slow-header
     attack; each connection is closed by that server after the phase);
   - 20 upload sessions stay open, each receiving a 1 KiB chunk every 0.5 s (one
     streamed PATCH per session for the whole phase);
   - 16 threads race manifest PUTs of 16 different images to one tag, in rounds.

Reported per phase: pulls done and failed, pull latency p50/p99, and what each attack got
back (status counts). Pull latency includes the Python client's own overhead, identical
in both phases: the ratio between phases is the result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.oci_images import OCI_MANIFEST, Image, make_image  # noqa: E402
from tests.support.servers import RunningServer, free_port, running_wasmhub  # noqa: E402

DOCS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## Robustness under attack"
PULL_REPO = "bench/pull"
RACE_REPO = "sec/race"
PULL_THREADS = 4
SLOW_ADDS = 40
OPEN_UPLOADS = 20
RACERS = 16
TRICKLE_SECONDS = 2.0


# -- the slow-header upstream ------------------------------------------------------


class SlowHeaderServer:
    """Accepts connections on loopback, sends a status line, then one header byte every
    ``TRICKLE_SECONDS`` until stopped (or ``max_seconds`` per connection)."""

    def __init__(self, max_seconds: float) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.max_seconds = max_seconds
        self.stopped = threading.Event()
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SlowHeaderServer:
        self._accept.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.sock.close()
        for thread in self._threads:
            thread.join(TRICKLE_SECONDS + 5)

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _trickle(self, conn: socket.socket) -> None:
        end = time.monotonic() + self.max_seconds
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stopped.is_set() and time.monotonic() < end:
                    conn.sendall(b"X")
                    self.stopped.wait(TRICKLE_SECONDS)
            except OSError:
                pass


# -- workloads -----------------------------------------------------------------------


@dataclass
class Pulls:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

        return {"ok": len(lat), "failed": sum(self.failures.values()),
                "failures": dict(self.failures), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "max_ms": lat[-1] * 1000 if lat else float("nan")}


def push_image(client: httpx.Client, repo: str, tag: str, image: Image) -> httpx.Response:
    for blob in (image.config, *image.layers):
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest},
                        content=blob.data)
        r.raise_for_status()
    return client.put(f"/v2/{repo}/manifests/{tag}", content=image.manifest,
                      headers={"Content-Type": OCI_MANIFEST})


def pull_loop(url: str, image: Image, until: float, pulls: Pulls) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                r = client.get(f"/v2/{PULL_REPO}/manifests/1.0.0",
                               headers={"Accept": OCI_MANIFEST})
                ok = r.status_code == 200 and r.content == image.manifest
                for blob in (image.config, *image.layers):
                    b = client.get(f"/v2/{PULL_REPO}/blobs/{blob.digest}")
                    ok = ok and b.status_code == 200 and \
                        "sha256:" + hashlib.sha256(b.content).hexdigest() == blob.digest
            except httpx.HTTPError as exc:
                pulls.failures[type(exc).__name__] += 1
                continue
            if ok:
                pulls.latencies.append(time.monotonic() - started)
            else:
                pulls.failures["wrong answer"] += 1


def slow_add(url: str, upstream: int, index: int, outcomes: Counter[str]) -> None:
    body = {"url": f"http://127.0.0.1:{upstream}/slow-{index}.wasm",
            "display_name": {"en": f"Slow {index}"}, "namespace": "slow", "name": f"p{index}"}
    try:
        r = httpx.post(f"{url}/api/v1/plugins", json=body, timeout=120,
                       headers={"X-Wasmhub-User": f"bench-{index}"})
        outcomes[str(r.status_code)] += 1
    except httpx.HTTPError as exc:
        outcomes[type(exc).__name__] += 1


def open_upload(url: str, index: int, until: float, outcomes: Counter[str]) -> None:
    def trickle() -> Iterator[bytes]:
        while time.monotonic() < until:
            yield os.urandom(1024)
            time.sleep(0.5)

    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            r = client.post(f"/v2/bench/upload{index}/blobs/uploads/")
            if r.status_code != 202:
                outcomes[f"POST {r.status_code}"] += 1
                return
            r = client.patch(r.headers["Location"], content=trickle())
            outcomes[f"PATCH {r.status_code}"] += 1
    except httpx.HTTPError as exc:
        outcomes[type(exc).__name__] += 1


def race_rounds(url: str, images: list[Image], until: float, outcomes: Counter[str]) -> int:
    rounds = 0
    while time.monotonic() < until:
        barrier = threading.Barrier(len(images))

        def put(image: Image, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                r = httpx.put(f"{url}/v2/{RACE_REPO}/manifests/1.0.0", content=image.manifest,
                              headers={"Content-Type": OCI_MANIFEST}, timeout=60)
                outcomes[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1

        threads = [threading.Thread(target=put, args=(image,)) for image in images]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        rounds += 1
        time.sleep(0.5)
    return rounds


# -- the run -------------------------------------------------------------------------


def measure_pulls(url: str, image: Image, seconds: float) -> Pulls:
    pulls = Pulls()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=pull_loop, args=(url, image, until, pulls))
               for _ in range(PULL_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return pulls


def run(baseline_s: float, attack_s: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="wasmhub-robust-") as tmp:
        env = {"WASMHUB_WORKERS": "2", "WASMHUB_FETCH_ALLOW_PRIVATE": '["127.0.0.0/8"]',
               "WASMHUB_FETCH_TIMEOUT_SECONDS": "5", "WASMHUB_LOG_LEVEL": "warning"}
        with running_wasmhub(Path(tmp) / "data", extra_env=env, port=free_port()) as server:
            return attack(server, baseline_s, attack_s)


def attack(server: RunningServer, baseline_s: float, attack_s: float) -> dict[str, object]:
    url = server.url
    image = make_image("bench-pull", layer_sizes=(64 * 1024,))
    racers = [make_image(f"race-{i}", layer_sizes=(2048,)) for i in range(RACERS)]
    with httpx.Client(base_url=url, timeout=60) as client:
        push_image(client, PULL_REPO, "1.0.0", image).raise_for_status()
        for racer in racers:  # blobs in place; the race is on the tag
            push_image(client, RACE_REPO, racer.digest[7:19], racer).raise_for_status()
    measure_pulls(url, image, 2)  # warm-up (both workers, caches)
    baseline = measure_pulls(url, image, baseline_s)

    adds: Counter[str] = Counter()
    uploads: Counter[str] = Counter()
    races: Counter[str] = Counter()
    with SlowHeaderServer(max_seconds=attack_s + 30) as upstream:
        until = time.monotonic() + attack_s + 2
        attackers = [threading.Thread(target=slow_add, args=(url, upstream.port, i, adds))
                     for i in range(SLOW_ADDS)]
        attackers += [threading.Thread(target=open_upload, args=(url, i, until, uploads))
                      for i in range(OPEN_UPLOADS)]
        rounds: list[int] = []
        attackers.append(threading.Thread(
            target=lambda: rounds.append(race_rounds(url, racers, until, races))))
        for thread in attackers:
            thread.start()
        time.sleep(2)  # let every attack get going
        during = measure_pulls(url, image, attack_s)
        upstream.stopped.set()  # slow upstreams hang up: the adds finish
        for thread in attackers:
            thread.join(150)
        slow_connections = upstream.connections
    tag = httpx.get(f"{url}/v2/{RACE_REPO}/manifests/1.0.0",
                    headers={"Accept": OCI_MANIFEST}, timeout=30)
    return {
        "baseline": baseline.summary(), "during": during.summary(),
        "slow_adds": dict(adds), "slow_upstream_connections": slow_connections,
        "open_uploads": dict(uploads), "race_puts": dict(races),
        "race_rounds": rounds[0] if rounds else 0,
        "race_tag_digest": tag.headers.get("Docker-Content-Digest"),
        "baseline_s": baseline_s, "attack_s": attack_s,
    }


def table(result: dict[str, object]) -> str:
    base = result["baseline"]
    during = result["during"]
    assert isinstance(base, dict) and isinstance(during, dict)
    rows = ["| phase | pulls ok | pulls failed | pull p50 | pull p99 | slowest |",
            "|---|---|---|---|---|---|"]
    for name, s, secs in (("baseline", base, result["baseline_s"]),
                          ("under attack", during, result["attack_s"])):
        rows.append(f"| {name} ({secs:g} s) | {s['ok']:,} | {s['failed']:,} | "
                    f"{s['p50_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['max_ms']:.0f} ms |")
    ratio = during["p99_ms"] / base["p99_ms"] if base["p99_ms"] else float("nan")
    rows += [
        "",
        f"- p99 under attack / baseline: {ratio:.2f}",
        f"- {SLOW_ADDS} slow-header adds → {fmt(result['slow_adds'])} "
        f"({result['slow_upstream_connections']} upstream connections)",
        f"- {OPEN_UPLOADS} open trickling uploads → {fmt(result['open_uploads'])}",
        f"- {RACERS} racing tag PUTs x {result['race_rounds']} rounds → "
        f"{fmt(result['race_puts'])}; tag ends on {str(result['race_tag_digest'])[:19]}…",
    ]
    return "\n".join(rows)


def fmt(counts: object) -> str:
    assert isinstance(counts, dict)
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def facts() -> str:
    load = os.getloadavg()[0]
    return "\n".join([
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- nproc: {os.cpu_count()}",
        f"- python: {platform.python_version()}",
        f"- load average (1 min) at the end: {load:.1f}",
    ])


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    block = f"{SECTION}\n\n{text}\n"
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    doc = pattern.sub(block.rstrip("\n"), doc) if pattern.search(doc) else doc.rstrip() + \
        "\n\n" + block
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s baseline, 10 s attack")
    parser.add_argument("--write", action="store_true", help=f"record in {DOCS.name}")
    parser.add_argument("--note", default="", help="a line to add under the table")
    args = parser.parse_args()
    baseline_s, attack_s = (5.0, 10.0) if args.quick else (15.0, 30.0)
    result = run(baseline_s, attack_s)
    text = table(result)
    print(text)
    print(json.dumps(result, indent=2, default=str), file=sys.stderr)
    if args.write:
        intro = (
            "`.venv/bin/python bench/robustness.py --write` against `wasmhub serve "
            "--workers 2` (SQLite) on 127.0.0.1: 4 threads pull one image (manifest by "
            "tag + 2 blobs, digests checked) before and during an attack of 40 slow-header "
            "add-by-URL requests (fetch limit 5 s), 20 open uploads trickling 1 KiB every "
            "0.5 s and 16 manifest PUTs racing for one tag in rounds."
        )
        note = f"\n\n{args.note}" if args.note else ""
        write_docs(f"{intro}\n\n{text}\n\nMachine:\n\n{facts()}{note}")


if __name__ == "__main__":
    main()
