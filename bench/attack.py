"""Ordinary pulls while the hub is under the attacks of issue 8, before vs during.

    .venv/bin/python bench/attack.py                      # 20 s per phase; prints the table
    .venv/bin/python bench/attack.py --write-docs         # ... and updates docs/benchmarks.md
    .venv/bin/python bench/attack.py --code /tmp/old/src  # the server runs other code (before)

Starts ``wasmhub serve --workers 2`` (SQLite, or ``--database-url``) on loopback with
``fetch_timeout_seconds=5`` and loopback allowed for add-by-URL, publishes one plugin
to pull, then measures ordinary pulls (manifest GET by tag + its module layer GET, 4
client threads) for ``--seconds`` while idle, and again while, all at once and all on
127.0.0.1 only:

- 40 add-by-URL requests to upstreams that trickle their response headers one byte
  every 2 s (``tests/catalog/slow_upstream.py``), re-sent as each one ends;
- 20 blob uploads kept open, each a PATCH whose body trickles 1 KiB per second;
- 16 threads racing manifest PUTs of 16 different plugin images to one tag, round
  after round.

Prints p50/p99/max of the pulls and their failures (timeouts at 10 s count as
failures), what the attacks got back, and whether the catalog ended on the digest the
registry's tag holds. Bounded in count and time: every attacker stops when the phase
ends (the upstream closes its connections, the trickling bodies end).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
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

from tests.catalog.publish import packed_plugin  # noqa: E402
from tests.catalog.slow_upstream import slow_upstream  # noqa: E402
from tests.support.servers import (  # noqa: E402
    RunningServer,
    free_port,
    wait_until_up,
    wasmhub_command,
)

from wasmhub.wasm import PackedImage  # noqa: E402

DOCS = REPO_ROOT / "docs" / "benchmarks.md"
SECTION = "## Pulls under attack"
PULL_REPO, RACE_REPO, TAG = "bench/pull", "bench/race", "1.0.0"
USER: dict[str, str] = {}  # an API token's header, filled in once the hub is up
PULL_TIMEOUT = 10.0


@dataclass
class Pulls:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def row(self) -> dict[str, object]:
        ms = sorted(x * 1000 for x in self.latencies)
        if not ms:
            return {"ok": 0, "failed": sum(self.failures.values())}
        return {
            "ok": len(ms), "failed": sum(self.failures.values()),
            "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
            "max_ms": round(ms[-1], 1),
        }


def push(client: httpx.Client, repository: str, tag: str, image: PackedImage,
         blobs: bool = True) -> httpx.Response:
    if blobs:
        for blob in image.blobs():
            r = client.post(f"/v2/{repository}/blobs/uploads/", params={"digest": blob.digest},
                            content=blob.data)
            r.raise_for_status()
    return client.put(f"/v2/{repository}/manifests/{tag}", content=image.manifest,
                      headers={"Content-Type": image.manifest_media_type})


def pull_loop(server: RunningServer, layer: str, stop: threading.Event, out: Pulls) -> None:
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    with httpx.Client(base_url=server.url, timeout=PULL_TIMEOUT) as client:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                manifest = client.get(f"/v2/{PULL_REPO}/manifests/{TAG}", headers=accept)
                blob = client.get(f"/v2/{PULL_REPO}/blobs/{layer}")
                if manifest.status_code != 200 or blob.status_code != 200:
                    out.failures[f"HTTP {manifest.status_code}/{blob.status_code}"] += 1
                    continue
            except httpx.HTTPError as exc:
                out.failures[type(exc).__name__] += 1
                continue
            out.latencies.append(time.perf_counter() - began)


def measure(server: RunningServer, layer: str, seconds: float) -> Pulls:
    out, stop = Pulls(), threading.Event()
    threads = [threading.Thread(target=pull_loop, args=(server, layer, stop, out))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=PULL_TIMEOUT + 5)
    return out


def slow_adds(server: RunningServer, upstream: str, stop: threading.Event,
              results: Counter[str], index: int) -> None:
    attempt = 0
    with httpx.Client(base_url=server.url, timeout=300.0) as client:
        while not stop.is_set():
            attempt += 1
            try:
                r = client.post("/api/v1/plugins", headers=USER, json={
                    "url": f"{upstream}/a{index}-{attempt}.wasm", "name": f"slow-{index}-{attempt}",
                    "display_name": {"en": "Slow"}, "description": {"en": "trickles"}})
                results[f"add HTTP {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                results[f"add {type(exc).__name__}"] += 1
            if not stop.is_set():
                stop.wait(0.5)


def trickled_body(stop: threading.Event) -> Iterator[bytes]:
    while not stop.is_set():
        yield b"u" * 1024
        stop.wait(1.0)


def open_upload(server: RunningServer, stop: threading.Event, results: Counter[str]) -> None:
    with httpx.Client(base_url=server.url, timeout=300.0) as client:
        try:
            start = client.post("/v2/bench/uploads/blobs/uploads/")
            location = start.headers.get("location")
            if start.status_code != 202 or not location:
                results[f"upload start HTTP {start.status_code}"] += 1
                return
            r = client.patch(location, content=trickled_body(stop),
                             headers={"Content-Type": "application/octet-stream"})
            results[f"upload PATCH HTTP {r.status_code}"] += 1
        except httpx.HTTPError as exc:
            results[f"upload {type(exc).__name__}"] += 1


def racing_puts(server: RunningServer, images: list[PackedImage], stop: threading.Event,
                results: Counter[str]) -> None:
    gate = threading.Barrier(len(images))

    def writer(image: PackedImage) -> None:
        with httpx.Client(base_url=server.url, timeout=120.0) as client:
            while not stop.is_set():
                try:
                    gate.wait(timeout=30)
                except threading.BrokenBarrierError:
                    return
                try:
                    r = push(client, RACE_REPO, TAG, image, blobs=False)
                    results[f"race PUT HTTP {r.status_code}"] += 1
                except httpx.HTTPError as exc:
                    results[f"race PUT {type(exc).__name__}"] += 1

    threads = [threading.Thread(target=writer, args=(image,)) for image in images]
    for thread in threads:
        thread.start()
    stop.wait()
    gate.abort()
    for thread in threads:
        thread.join(timeout=150)


def attack(server: RunningServer, layer: str, seconds: float,
           images: list[PackedImage]) -> tuple[Pulls, Counter[str]]:
    results: Counter[str] = Counter()
    stop = threading.Event()
    with slow_upstream() as (upstream, _):
        attackers = [threading.Thread(target=slow_adds, args=(server, upstream, stop, results, i))
                     for i in range(40)]
        attackers += [threading.Thread(target=open_upload, args=(server, stop, results))
                      for _ in range(20)]
        attackers.append(threading.Thread(target=racing_puts,
                                          args=(server, images, stop, results)))
        for thread in attackers:
            thread.start()
        time.sleep(1.0)  # let every attacker get its request in
        pulls = measure(server, layer, seconds)
        stop.set()
    # Leaving the block closed the upstream: pending adds end, trickles stop.
    for thread in attackers:
        thread.join(timeout=300)
    return pulls, results


def catalog_agrees(server: RunningServer) -> str:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        head = client.head(f"/v2/{RACE_REPO}/manifests/{TAG}", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"})
        version = client.get(f"/api/v1/plugins/{RACE_REPO}/versions/{TAG}")
    if head.status_code != 200 or version.status_code != 200:
        return f"no (registry HTTP {head.status_code}, catalog HTTP {version.status_code})"
    registry_digest = head.headers["docker-content-digest"]
    catalog_digest = version.json()["version"]["digest"]
    return "yes" if registry_digest == catalog_digest else (
        f"no (registry {registry_digest[:19]}, catalog {catalog_digest[:19]})")


@contextlib.contextmanager
def serving(
    data_dir: Path, database_url: str | None, env: dict[str, str]
) -> Iterator[RunningServer]:
    """``wasmhub serve`` with a start-up wait long enough for a loaded machine."""
    port = free_port()
    data_dir.mkdir(parents=True)
    full = {**os.environ, "WASMHUB_DATA_DIR": str(data_dir), "WASMHUB_PORT": str(port),
            "WASMHUB_HOST": "127.0.0.1", **env}
    if database_url:
        full["WASMHUB_DATABASE_URL"] = database_url
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([*wasmhub_command(), "serve"], env=full, stdout=log,
                                stderr=subprocess.STDOUT)
    server = RunningServer("wasmhub", f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        wait_until_up(server, timeout=180.0)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_user(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """An account for the add-by-URL attackers (adding needs one) and its API token, so
    40 requests at once cost no password hashing."""
    from wasmhub.hub import Hub
    from wasmhub.settings import Settings

    hub = Hub.open(Settings(data_dir=data_dir, database_url=database_url))
    try:
        info = hub.identity.accounts.create_user("attacker", "attacker@example.com",
                                                 "bench-" + os.urandom(8).hex())
        secret, _ = hub.identity.tokens.create(name="bench", scopes=["pull", "push"],
                                               resources=[], created_by="attacker",
                                               user_id=info.id)
    finally:
        hub.close()
    return {"Authorization": f"Bearer {secret}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--code", type=Path, default=None,
                        help="a src/ directory the server imports instead (e.g. main's)")
    parser.add_argument("--label", default="this branch", help="name of the run in the docs")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    # Pushes go to namespaces nobody owns (a development hub: what is measured here is
    # robustness; bench/registry.py measures the cost of authentication).
    env = {"WASMHUB_WORKERS": str(args.workers), "WASMHUB_FETCH_TIMEOUT_SECONDS": "5",
           "WASMHUB_OPEN_NAMESPACES": "true",
           "WASMHUB_FETCH_ALLOW_PRIVATE": '["127.0.0.0/8"]', "WASMHUB_LOG_LEVEL": "warning"}
    if args.code is not None:
        env["PYTHONPATH"] = str(args.code.resolve())
    pulled = packed_plugin("pull", TAG, en="Pull me")
    layer = pulled.layers[-1].digest
    racers = [packed_plugin("race", TAG, en=f"Race {i}", readme=f"# Writer {i}")
              for i in range(16)]
    with tempfile.TemporaryDirectory(prefix="wasmhub-attack-") as tmp, \
            serving(Path(tmp) / "hub", args.database_url, env) as server:
        USER.update(bench_user(Path(tmp) / "hub", args.database_url))
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            push(client, PULL_REPO, TAG, pulled).raise_for_status()
            for image in racers:
                for blob in image.blobs():
                    client.post(f"/v2/{RACE_REPO}/blobs/uploads/",
                                params={"digest": blob.digest}, content=blob.data)
        idle = measure(server, layer, args.seconds)
        during, results = attack(server, layer, args.seconds, racers)
        agrees = catalog_agrees(server)
    report = {
        "label": args.label, "idle": idle.row(), "under_attack": during.row(),
        "pull_failures": dict(during.failures), "attack_results": dict(sorted(results.items())),
        "catalog_equals_registry": agrees,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load "
                   f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(json.dumps(report, indent=2))
    if args.write_docs:
        write_docs(report, args)


def write_docs(report: dict[str, object], args: argparse.Namespace) -> None:
    idle, during = report["idle"], report["under_attack"]
    assert isinstance(idle, dict) and isinstance(during, dict)
    line = (f"| {report['label']} ({args.workers} workers) | "
            f"{idle.get('p50_ms', '-')} / {idle.get('p99_ms', '-')} | "
            f"{during.get('p50_ms', '-')} / {during.get('p99_ms', '-')} / "
            f"{during.get('max_ms', '-')} | {during['ok']} ok, {during['failed']} failed | "
            f"{report['catalog_equals_registry']} | {report['date']}; {report['machine']} |")
    text = DOCS.read_text()
    header = (f"{SECTION}\n\n`.venv/bin/python bench/attack.py --seconds {args.seconds:g} "
              "--write-docs [--code DIR --label L --workers N]`: `wasmhub serve` (SQLite), "
              "pulls (manifest GET + module layer GET, 4 threads) while idle and while 40 "
              "slow-header add-by-URL requests, 20 trickling uploads and 16 racing tag PUTs "
              "run at once (see the script's docstring).\n\n"
              "| code | idle p50 / p99 ms | under attack p50 / p99 / max ms | pulls under "
              "attack | catalog = registry after the race | when; machine |\n"
              "|---|---|---|---|---|---|\n")
    if SECTION not in text:
        text = text.rstrip("\n") + "\n\n" + header
    start = text.index(SECTION)
    end = text.find("\n## ", start + 1)
    section = text[start:] if end < 0 else text[start:end + 1]
    lines = section.splitlines()
    table = [i for i, r in enumerate(lines) if r.startswith("|")]
    notes = lines[table[-1] + 1:] if table else []  # the analysis below the table stays
    rows = [r for r in lines if r.startswith("| ") and not r.startswith("| code")
            and not r.startswith(f"| {report['label']} ({args.workers} workers) |")]
    updated = header + "\n".join([*rows, line, *notes]).rstrip("\n") + "\n"
    text = text[:start] + updated + ("" if end < 0 else text[end + 1:])
    DOCS.write_text(text)


if __name__ == "__main__":
    main()
