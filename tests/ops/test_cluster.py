"""Two ``wasmhub serve`` replicas behind nginx (round robin) on one PostgreSQL, one S3
bucket (moto) and Redis: a chunked push whose chunks alternate between the replicas,
``wasmhub push``/``pull`` through the balancer, and one replica SIGKILLed mid-push
with no acknowledged push lost and ``fsck`` clean. (oras-py and skopeo run against the
same topology in tests/interop, registry kind ``wasmhub-cluster``.)"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fidelity.scenarios import CORPUS
from tests.interop.conftest import _selected_kinds, private_postgres_database
from tests.registry.test_crash import Ledger, push_image, pusher, verify_acknowledged
from tests.support.cluster import UPSTREAM_HEADER, Cluster, running_cluster
from tests.support.s3 import S3Endpoint
from tests.support.servers import wasmhub_command

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif("wasmhub-cluster" not in _selected_kinds(),
                       reason="the cluster runs on PostgreSQL (WASMHUB_TEST_BACKENDS)"),
]



@pytest.fixture
def cluster(tmp_path: Path, s3_endpoint: S3Endpoint) -> Iterator[Cluster]:
    with private_postgres_database() as url, \
            running_cluster(tmp_path, url, s3_endpoint) as running:
        yield running


def wasmhub_cli(cluster: Cluster, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **cluster.env, "WASMHUB_DATABASE_URL": cluster.database_url,
           "WASMHUB_DATA_DIR": str(home / "data"), "HOME": str(home)}
    return subprocess.run([*wasmhub_command(), *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def fsck(cluster: Cluster, home: Path) -> dict[str, Any]:
    proc = wasmhub_cli(cluster, "fsck", "--json", home=home)
    assert proc.returncode == 0, f"fsck exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}"
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_chunks_of_one_push_alternate_between_replicas(cluster: Cluster, tmp_path: Path) -> None:
    data = os.urandom(11 * 1024 * 1024 + 5)  # more than one S3 part (8 MiB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    chunk = 1024 * 1024 + 3
    answered_by: list[str] = []
    # One connection per request, as many clients do across a balancer.
    start = httpx.post(f"{cluster.url}/v2/alt/blob/blobs/uploads/", timeout=30)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    for offset in range(0, len(data), chunk):
        piece = data[offset:offset + chunk]
        response = httpx.patch(cluster.url + location, content=piece, timeout=60, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(piece) - 1}",
        })
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{offset + len(piece) - 1}"
        answered_by.append(response.headers[UPSTREAM_HEADER])
        location = response.headers["Location"]
    done = httpx.put(f"{cluster.url}{location}?digest={digest}", timeout=60)
    assert done.status_code == 201, done.text
    replicas = {f"127.0.0.1:{r.port}" for r in cluster.replicas}
    assert set(answered_by) == replicas
    assert all(a != b for a, b in itertools.pairwise(answered_by)), answered_by
    for replica in cluster.replicas:  # every replica serves it
        got = httpx.get(f"{replica.url}/v2/alt/blob/blobs/{digest}", timeout=60)
        assert got.status_code == 200 and got.content == data
    report = fsck(cluster, tmp_path / "cli")
    assert report["ok"] is True and report["checked"] == 1, report


def test_wasmhub_push_and_pull_through_the_balancer(cluster: Cluster, tmp_path: Path) -> None:
    modules = sorted(CORPUS.glob("*/*.wasm"))
    assert modules, f"expected the corpus at {CORPUS} (../shared next to the checkout)"
    module = modules[0]
    ref = f"{cluster.host}/team/corpus:1.0.0"
    home = tmp_path / "cli"
    pushed = wasmhub_cli(cluster, "push", str(module), ref, "--insecure", "--json", home=home)
    assert pushed.returncode == 0, pushed.stderr
    out = tmp_path / "pulled.wasm"
    pulled = wasmhub_cli(cluster, "pull", ref, "-o", str(out), "--insecure", "--json",
                         home=home)
    assert pulled.returncode == 0, pulled.stderr
    assert out.read_bytes() == module.read_bytes()
    # The push was indexed once, and every replica's catalog API shows it.
    for replica in cluster.replicas:
        versions = httpx.get(f"{replica.url}/api/v1/plugins/team/corpus/versions", timeout=30)
        assert versions.status_code == 200, versions.text
        assert [v["tag"] for v in versions.json()] == ["1.0.0"]


def test_sigkill_one_replica_mid_push_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    ledger = Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=pusher, args=(cluster.url, i, ledger, stop), daemon=True)
               for i in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while ledger.acked < 24 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = cluster.replicas[0]
    victim.kill()  # SIGKILL while every thread is inside some request
    acked_at_kill = ledger.acked
    # The balancer sends the rest to the survivor: pushes go on being acknowledged.
    deadline = time.monotonic() + 60
    while ledger.acked < acked_at_kill + 24 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert victim.process.returncode == -9
    assert ledger.acked >= acked_at_kill + 24, "the surviving replica stopped acknowledging"
    assert ledger.unacknowledged, "the kill came after every push had finished"

    verify_acknowledged(cluster.url, ledger)
    report = fsck(cluster, tmp_path / "cli")
    assert report["ok"] is True, report
    assert report["checked"] >= len({digest for _repo, digest in ledger.blobs}), report
    with httpx.Client(timeout=60) as client:
        for push in ledger.unacknowledged:
            assert push_image(client, cluster.url, push, None), push.tag
    verify_acknowledged(cluster.url, ledger)
