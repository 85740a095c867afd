"""The hub on every storage driver, chosen by settings: gc's grace period (a blob stored
moments ago without its database row yet, as between a push's blob and manifest, stays
until the grace ends), stale uploads, and blob GETs redirected to the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.support.s3 import CREDENTIALS, S3Endpoint
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.registry.maintenance import fsck, gc
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings, StorageBackend
from wasmhub.storage import FilesystemBlobStore, put_bytes
from wasmhub.storage.s3 import S3BlobStore


@pytest.fixture(params=["filesystem", "s3"])
def driver_hub(request: pytest.FixtureRequest, tmp_path: Path, database_url: str,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    extra: dict[str, object] = {}
    if request.param == "s3":
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        for key, value in CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        extra = {"storage": StorageBackend.S3, "s3_bucket": endpoint.new_bucket(),
                 "s3_endpoint_url": endpoint.url, "s3_addressing_style": "path"}
    hub = Hub.open(Settings(data_dir=tmp_path / "data", database_url=database_url, **extra))
    yield hub
    hub.close()


def test_driver_is_chosen_by_settings(driver_hub: Hub) -> None:
    expected = S3BlobStore if driver_hub.settings.storage is StorageBackend.S3 \
        else FilesystemBlobStore
    assert isinstance(driver_hub.storage, expected)


def test_gc_grace_period_on_every_driver(driver_hub: Hub) -> None:
    registry = RegistryService(driver_hub)
    linked = registry.put_blob("g/r", b"linked but unreferenced")
    unrecorded = put_bytes(driver_hub.storage, b"stored, no row yet").digest
    # Within the grace period neither is a candidate: the database row of one is new,
    # the other has no row at all and only the store's modification time protects it.
    assert gc(driver_hub, grace_seconds=3600).blobs == []
    report = gc(driver_hub, grace_seconds=0, delete_now=True)
    assert sorted(b["digest"] for b in report.blobs) == sorted([linked, unrecorded])
    assert driver_hub.storage.stat(linked) is None
    assert driver_hub.storage.stat(unrecorded) is None
    assert fsck(driver_hub).ok


def test_gc_removes_stale_uploads_on_every_driver(driver_hub: Hub) -> None:
    registry = RegistryService(driver_hub)
    session = registry.start_upload("g/r")
    writer = registry.append_upload("g/r", session.upload_id)
    writer.write(b"half a blob")
    writer.close()
    assert gc(driver_hub, upload_max_age=3600).uploads == []
    report = gc(driver_hub, upload_max_age=0, delete_now=True)
    assert report.uploads == [session.upload_id]
    assert list(driver_hub.storage.list_uploads()) == []


def test_blob_get_redirects_to_the_store_when_enabled(driver_hub: Hub) -> None:
    settings = driver_hub.settings.model_copy(update={"storage_redirect": True})
    hub = Hub.open(settings)
    try:
        digest = RegistryService(hub).put_blob("g/r", b"redirected bytes")
        with TestClient(create_app(settings, hub)) as client:
            response = client.get(f"/v2/g/r/blobs/{digest}", follow_redirects=False)
            if settings.storage is StorageBackend.S3:
                assert response.status_code == 307
                assert response.headers["Docker-Content-Digest"] == digest
                direct = httpx.get(response.headers["Location"], timeout=30)
                assert direct.content == b"redirected bytes"
            else:  # no URL of its own: the hub serves the bytes
                assert response.status_code == 200
                assert response.content == b"redirected bytes"
            missing = "sha256:" + "0" * 64
            assert client.get(f"/v2/g/r/blobs/{missing}",
                              follow_redirects=False).status_code == 404
    finally:
        hub.close()
