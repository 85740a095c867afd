"""SIGKILL ``wasmhub serve`` in the middle of concurrent pushes; nothing acknowledged is lost.

Threads push blobs (monolithic POST+PUT and chunked POST+PATCH…+PUT) and manifests with
unique tags. The test records every push the server acknowledged (201), kills the server
with SIGKILL while pushes are in flight, restarts it on the same data directory and
database, and checks that:

- every acknowledged blob and manifest is served intact (same bytes, same digest);
- ``wasmhub fsck --json`` finds nothing corrupt;
- every push that was not acknowledged can be retried from scratch and then succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.oci_images import MANIFEST_ACCEPT, OCI_MANIFEST, canonical_json
from tests.support.servers import RunningServer, running_wasmhub, wasmhub_command

pytestmark = pytest.mark.interop

THREADS = 6
MIN_ACKED_BEFORE_KILL = 24
MAX_WAIT_FOR_ACKS = 20.0
CHUNK = 256 * 1024


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Push:
    """One unit of work: the blobs of an image, then its manifest under a unique tag."""

    repo: str
    tag: str
    config: bytes
    layer: bytes
    chunked: bool

    @property
    def manifest(self) -> bytes:
        return canonical_json({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": digest_of(self.config), "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": digest_of(self.layer), "size": len(self.layer)}],
            "annotations": {"io.wasmhub.test.tag": self.tag},
        })


@dataclass
class Ledger:
    """What the server acknowledged, and what it did not, across all threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (repo, digest) -> data
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (repo, tag) -> body
    unacknowledged: list[Push] = field(default_factory=list)

    def ack_blob(self, repo: str, data: bytes) -> None:
        with self.lock:
            self.blobs[(repo, digest_of(data))] = data

    def ack_manifest(self, push: Push) -> None:
        with self.lock:
            self.manifests[(push.repo, push.tag)] = push.manifest

    @property
    def acked(self) -> int:
        with self.lock:
            return len(self.blobs) + len(self.manifests)


def location(base: str, resp: httpx.Response) -> str:
    loc = resp.headers["location"]
    return loc if loc.startswith("http") else base + loc


def with_digest(url: str, digest: str) -> str:
    return url + ("&" if "?" in url else "?") + f"digest={digest}"


def upload(client: httpx.Client, base: str, repo: str, data: bytes, chunked: bool) -> bool:
    """Push one blob; True when the server acknowledged it with 201."""
    resp = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    if resp.status_code != 202:
        return False
    url = location(base, resp)
    if chunked:
        for offset in range(0, len(data), CHUNK):
            piece = data[offset:offset + CHUNK]
            resp = client.patch(url, content=piece, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(piece) - 1}",
            })
            if resp.status_code != 202:
                return False
            url = location(base, resp)
        resp = client.put(with_digest(url, digest_of(data)))
    else:
        resp = client.put(with_digest(url, digest_of(data)), content=data,
                          headers={"Content-Type": "application/octet-stream"})
    return resp.status_code == 201


def push_image(client: httpx.Client, base: str, push: Push, ledger: Ledger | None) -> bool:
    """All of one push; records each acknowledged part in ``ledger``."""
    for data, chunked in ((push.config, False), (push.layer, push.chunked)):
        if not upload(client, base, push.repo, data, chunked):
            return False
        if ledger:
            ledger.ack_blob(push.repo, data)
    resp = client.put(f"{base}/v2/{push.repo}/manifests/{push.tag}", content=push.manifest,
                      headers={"Content-Type": OCI_MANIFEST})
    if resp.status_code != 201:
        return False
    if ledger:
        ledger.ack_manifest(push)
    return True


def make_push(thread: int, n: int) -> Push:
    seed = f"{thread}-{n}-{time.monotonic_ns()}".encode()
    # 64 KiB .. ~1.6 MiB layers: chunked ones span several PATCHes.
    size = 65_536 + (thread * 7919 + n * 104_729) % (1_536 * 1024)
    layer = (hashlib.sha512(seed).digest() * (size // 64 + 1))[:size]
    layer = seed + layer[len(seed):]
    config = json.dumps({"thread": thread, "n": n, "seed": seed.decode()}).encode()
    return Push(repo=f"crash/t{thread % 3}", tag=f"t{thread}-n{n}", config=config,
                layer=layer, chunked=bool((thread + n) % 2))


def pusher(base: str, thread: int, ledger: Ledger, stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as client:
        n = 0
        while not stop.is_set():
            push = make_push(thread, n)
            n += 1
            try:
                ok = push_image(client, base, push, ledger)
            except httpx.HTTPError:
                ok = False
            if not ok:
                with ledger.lock:
                    ledger.unacknowledged.append(push)
                if stop.is_set() or not _alive(base):
                    return


def _alive(base: str) -> bool:
    try:
        httpx.get(f"{base}/v2/", timeout=2)
    except httpx.HTTPError:
        return False
    return True


def run_pushes_and_kill(server: RunningServer, kill: Callable[[], None]) -> Ledger:
    ledger = Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=pusher, args=(server.url, i, ledger, stop), daemon=True)
               for i in range(THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + MAX_WAIT_FOR_ACKS
    while ledger.acked < MIN_ACKED_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.02)
    kill()  # mid-flight: every thread is inside some request right now
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return ledger


def verify_acknowledged(base: str, ledger: Ledger) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for (repo, digest), data in ledger.blobs.items():
            head = client.head(f"/v2/{repo}/blobs/{digest}")
            assert head.status_code == 200, (repo, digest, head.status_code)
            assert int(head.headers["content-length"]) == len(data)
            resp = client.get(f"/v2/{repo}/blobs/{digest}")
            assert resp.status_code == 200, (repo, digest, resp.status_code)
            assert resp.content == data, f"{repo}@{digest}: bytes differ after the crash"
            assert resp.headers["docker-content-digest"] == digest
        for (repo, tag), body in ledger.manifests.items():
            for reference in (tag, digest_of(body)):
                resp = client.get(f"/v2/{repo}/manifests/{reference}",
                                  headers={"Accept": MANIFEST_ACCEPT})
                assert resp.status_code == 200, (repo, reference, resp.status_code)
                assert resp.content == body
                assert resp.headers["docker-content-digest"] == digest_of(body)


def run_fsck(data_dir: Path, database_url: str) -> dict[str, Any]:
    env = {**os.environ, "WASMHUB_DATA_DIR": str(data_dir),
           "WASMHUB_DATABASE_URL": database_url}
    proc = subprocess.run([*wasmhub_command(), "fsck", "--json"], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"fsck exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}"
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_sigkill_during_pushes_loses_nothing_acknowledged(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    with running_wasmhub(data_dir, database_url) as server:
        ledger = run_pushes_and_kill(server, server.kill)
        assert server.process.returncode == -9
    assert ledger.acked >= MIN_ACKED_BEFORE_KILL, "the server acknowledged too few pushes"
    assert ledger.unacknowledged, "SIGKILL came after every push had finished"
    print(f"acknowledged: {len(ledger.blobs)} blobs, {len(ledger.manifests)} manifests; "
          f"cut off: {len(ledger.unacknowledged)} pushes")

    with running_wasmhub(data_dir, database_url) as server:
        verify_acknowledged(server.url, ledger)

        report = run_fsck(data_dir, database_url)
        assert report["ok"] is True, report
        assert report["corrupt"] == [], report
        assert report["missing_blobs"] == [], report
        assert report["errors"] == [], report
        assert report["checked"] >= len({digest for _repo, digest in ledger.blobs}), report

        with httpx.Client(timeout=30) as client:
            for push in ledger.unacknowledged:
                assert push_image(client, server.url, push, None), push.tag
        retried = Ledger()
        for push in ledger.unacknowledged:
            retried.ack_blob(push.repo, push.config)
            retried.ack_blob(push.repo, push.layer)
            retried.ack_manifest(push)
        verify_acknowledged(server.url, retried)
        verify_acknowledged(server.url, ledger)
