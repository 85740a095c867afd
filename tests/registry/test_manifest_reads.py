"""Manifest GET/HEAD fast path: the event-loop read on SQLite, its fallback to a worker
thread, tags seen across processes at once, and the download event after the response."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.responses import Response

from tests.catalog.publish import packed_plugin
from tests.registry.conftest import Registry, digest_of
from wasmhub.catalog.service import CatalogService
from wasmhub.db.engine import Database
from wasmhub.events import Event, ManifestFetched
from wasmhub.hub import Hub
from wasmhub.oci.errors import ManifestUnknown
from wasmhub.oci.media_types import MediaType
from wasmhub.registry.base import AfterResponse
from wasmhub.registry.service import RegistryService


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` (work done after a response) for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def push_plugin(registry: Registry, repo: str, tag: str) -> str:
    image = packed_plugin(repo.rpartition("/")[2], tag, en="Hello")
    for blob in image.blobs():
        r = registry.client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest},
                                 content=blob.data)
        assert r.status_code == 201, r.text
    r = registry.put_manifest(repo, tag, image.manifest, image.manifest_media_type)
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


def test_get_counts_a_download_after_the_response_head_does_not(registry: Registry) -> None:
    digest = push_plugin(registry, "team/counted", "1.0.0")
    catalog = CatalogService(registry.hub)

    def downloads() -> int:
        return catalog.get_plugin("team", "counted").summary.downloads

    assert downloads() == 0
    head = registry.client.head("/v2/team/counted/manifests/1.0.0")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Docker-Content-Digest"] == digest
    got = registry.client.get("/v2/team/counted/manifests/1.0.0")
    assert got.status_code == 200 and digest_of(got.content) == digest
    assert eventually(lambda: downloads() == 1), downloads()
    registry.client.get(f"/v2/team/counted/manifests/{digest}")
    assert eventually(lambda: downloads() == 2), downloads()
    registry.client.head(f"/v2/team/counted/manifests/{digest}")
    time.sleep(0.2)  # a HEAD has nothing pending; give a wrong count the chance to show
    assert downloads() == 2
    versions = {v.tag: v.downloads for v in catalog.list_versions("team", "counted")}
    assert versions == {"1.0.0": 2}


def test_only_served_gets_publish_fetched(registry: Registry) -> None:
    seen: list[Event] = []
    registry.hub.events.subscribe(seen.append)
    digest, _ = registry.push_image("ev/served", "v1")

    def fetched() -> list[ManifestFetched]:
        return [e for e in seen if isinstance(e, ManifestFetched)]

    assert registry.client.get("/v2/ev/served/manifests/nope").status_code == 404
    refused = registry.client.get(  # stored as OCI, the client takes only Docker's type
        "/v2/ev/served/manifests/v1", headers={"Accept": MediaType.DOCKER_MANIFEST.value})
    assert refused.status_code == 404
    assert registry.client.head("/v2/ev/served/manifests/v1").status_code == 200
    assert fetched() == []
    assert registry.client.get("/v2/ev/served/manifests/v1").status_code == 200
    assert eventually(lambda: fetched() == [ManifestFetched("ev/served", digest, "v1")])


def test_event_loop_and_thread_lookups_agree(registry: Registry) -> None:
    digest, payload = registry.push_image("fast/agree", "v1")
    service = RegistryService(registry.hub)
    for ref in ("v1", digest):
        for with_payload in (True, False):
            slow = service.lookup_manifest("fast/agree", ref, with_payload=with_payload)
            fast = service.lookup_manifest_nowait("fast/agree", ref, with_payload=with_payload)
            if not registry.hub.database.is_sqlite:
                assert fast is None  # PostgreSQL: always the worker thread
                fast = slow
            assert fast == slow
            assert slow.digest == digest and slow.size == len(payload)
            assert slow.payload == (payload if with_payload else b"")
    for ref in ("v2", "sha256:" + "0" * 64):
        with pytest.raises(ManifestUnknown):
            service.lookup_manifest("fast/agree", ref)
        if registry.hub.database.is_sqlite:
            with pytest.raises(ManifestUnknown):
                service.lookup_manifest_nowait("fast/agree", ref)
    with pytest.raises(ManifestUnknown):  # the tag exists, in another repository
        service.lookup_manifest("fast/other", "v1")


def test_a_retag_by_another_process_is_seen_by_the_next_get(registry: Registry) -> None:
    """Another worker is another Database on the same storage: no tag is cached."""
    first, _ = registry.push_image("moving/tag", "latest", b"first")
    other = Hub(settings=registry.hub.settings,
                database=Database(registry.hub.settings.effective_database_url))
    try:
        elsewhere = RegistryService(other)
        for layer in (b"second", b"third"):
            assert registry.client.get("/v2/moving/tag/manifests/latest").headers[
                "Docker-Content-Digest"] == first
            payload = registry.image("moving/tag", layer)
            first = elsewhere.put_manifest("moving/tag", "latest", payload,
                                           MediaType.OCI_MANIFEST.value)
            got = registry.client.get("/v2/moving/tag/manifests/latest")
            assert got.headers["Docker-Content-Digest"] == first and got.content == payload
            elsewhere.delete_manifest("moving/tag", "latest")
            assert registry.client.head("/v2/moving/tag/manifests/latest").status_code == 404
            elsewhere.put_manifest("moving/tag", "latest", payload,
                                   MediaType.OCI_MANIFEST.value)
    finally:
        other.close()


def hold_exclusive_lock(path: str) -> sqlite3.Connection:
    """A connection that keeps every other one out, readers included (WAL + exclusive
    locking mode), until it is closed."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("DELETE FROM registry_upload_sessions")
    return conn


def test_a_locked_database_sends_the_read_to_a_worker_thread(
    registry: Registry, tmp_path: Path
) -> None:
    if not registry.hub.database.is_sqlite:
        pytest.skip("the event-loop read is SQLite's")
    digest, _ = registry.push_image("locked/repo", "v1")
    database = registry.hub.database
    path = str(tmp_path / "wasmhub.db")
    query = "SELECT count(*) FROM registry_tags"
    assert database.read_nowait(query, ()) == [(1,)]
    database.dispose()  # the exclusive lock needs every other connection closed
    locker = hold_exclusive_lock(path)
    started = time.monotonic()
    assert database.read_nowait(query, ()) is None  # busy: no waiting on the loop
    assert time.monotonic() - started < 1.0
    threading.Timer(0.3, locker.close).start()
    got = registry.client.get("/v2/locked/repo/manifests/v1")  # waits in a worker thread
    assert got.status_code == 200 and got.headers["Docker-Content-Digest"] == digest
    assert database.read_nowait(query, ()) == [(1,)]


def test_read_nowait_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "sub" / "missing.db"
    database = Database(f"sqlite:///{missing}")
    try:
        assert database.read_nowait("SELECT 1", ()) is None
        assert not missing.exists()
    finally:
        database.dispose()
    memory = Database("sqlite://")
    try:
        assert memory.read_nowait("SELECT 1", ()) is None  # each connection its own db
    finally:
        memory.dispose()


def test_after_response_runs_beside_the_response_or_first_when_full() -> None:
    ran: list[str] = []
    gate = threading.Event()

    def slow(label: str) -> None:
        gate.wait(5)
        ran.append(label)

    async def scenario() -> None:
        deferred = AfterResponse(limit=1)
        response = await deferred.attach(Response(b"x"), slow, "later")
        assert response.background is not None and deferred.pending == 1
        assert ran == []  # the handler did not wait for it
        gate.set()
        await response.background()  # what Starlette runs once the body is sent
        assert ran == ["later"] and deferred.pending == 0
        full = AfterResponse(limit=0)
        response = await full.attach(Response(b"x"), ran.append, "first")
        assert ran == ["later", "first"] and response.background is None
        deferred.close()
        full.close()

    asyncio.run(scenario())
