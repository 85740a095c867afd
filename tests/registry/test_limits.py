"""Upload limits: blob size, open sessions per client and in total, idle sessions swept by
the server, chunks whose ``Content-Range`` disagrees with their body, bounded error
details. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.registry.conftest import Registry, digest_of, error_code
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.oci.media_types import MediaType
from wasmhub.registry.base import bounded_detail
from wasmhub.registry.maintenance import sweep_uploads
from wasmhub.registry.models import UploadSession
from wasmhub.settings import Settings

LIMITS: dict[str, Any] = {
    "max_blob_bytes": 4096,
    "max_upload_sessions": 6,
    "max_upload_sessions_per_client": 3,
}


def _registry(settings: Settings, **limits: Any) -> Iterator[Registry]:
    hub = Hub.open(settings.model_copy(update=limits))
    try:
        with TestClient(create_app(hub.settings, hub)) as client:
            yield Registry(client, hub)
    finally:
        hub.close()


@pytest.fixture
def limited(settings: Settings) -> Iterator[Registry]:
    yield from _registry(settings, **LIMITS)


@pytest.fixture
def sweeping(settings: Settings) -> Iterator[Registry]:
    """Sessions expire after 2 s idle (so this fixture is only for the sweep test)."""
    yield from _registry(settings, upload_session_expiry_seconds=2.0)


def sessions_in_db(registry: Registry) -> int:
    with registry.hub.database.session() as session:
        return len(list(session.scalars(UploadSession.__table__.select())))


def test_monolithic_blob_over_the_limit_is_413_and_leaves_nothing(limited: Registry) -> None:
    data = b"x" * 4097
    r = limited.client.post("/v2/big/blobs/uploads/", params={"digest": digest_of(data)},
                            content=data)
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    # Without Content-Length the limit applies while reading.
    r = limited.client.post("/v2/big/blobs/uploads/", params={"digest": digest_of(data)},
                            content=iter([data[:3000], data[3000:]]))
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert limited.stray_files() == []
    at_limit = b"y" * 4096
    assert limited.push_blob("big", at_limit) == digest_of(at_limit)


def test_chunks_over_the_limit_are_refused_and_the_session_keeps_what_it_had(
    limited: Registry,
) -> None:
    location = limited.client.post("/v2/big/blobs/uploads/").headers["Location"]
    r = limited.client.patch(location, content=b"a" * 3000, headers={"Content-Range": "0-2999"})
    assert r.status_code == 202
    r = limited.client.patch(location, content=iter([b"b" * 1200]))
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    status = limited.client.get(location)
    assert status.status_code == 204 and status.headers["Range"] == "0-2999"


def test_patch_whose_content_range_disagrees_with_the_body_is_416(limited: Registry) -> None:
    location = limited.client.post("/v2/r/blobs/uploads/").headers["Location"]
    # No Content-Length (streamed): the range promises 100 bytes, the body has 10.
    r = limited.client.patch(location, content=iter([b"0123456789"]),
                             headers={"Content-Range": "0-99"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    # ... or more than it promised.
    r = limited.client.patch(location, content=iter([b"z" * 50]),
                             headers={"Content-Range": "0-9"})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    status = limited.client.get(location)
    assert status.headers["Range"] == "0-0"  # nothing was kept
    r = limited.client.patch(location, content=iter([b"0123456789"]),
                             headers={"Content-Range": "0-9"})
    assert r.status_code == 202 and r.headers["Range"] == "0-9"


def test_open_sessions_are_limited_per_client_and_in_total(limited: Registry) -> None:
    mine = [limited.client.post("/v2/a/blobs/uploads/") for _ in range(3)]
    assert all(r.status_code == 202 for r in mine)
    r = limited.client.post("/v2/a/blobs/uploads/")
    assert r.status_code == 429 and error_code(r) == "TOOMANYREQUESTS"
    assert "per client" in r.json()["errors"][0]["message"]
    # Another client still may; the registry-wide limit then applies to everyone.
    other = TestClient(limited.client.app, client=("10.1.2.3", 4000))
    assert all(other.post("/v2/b/blobs/uploads/").status_code == 202 for _ in range(3))
    third = TestClient(limited.client.app, client=("10.9.9.9", 4000))
    r = third.post("/v2/c/blobs/uploads/")
    assert r.status_code == 429 and "max_upload_sessions" in r.json()["errors"][0]["message"]
    # Finishing one frees a slot.
    assert limited.client.delete(mine[0].headers["Location"]).status_code == 204
    assert third.post("/v2/c/blobs/uploads/").status_code == 202


def test_the_server_sweeps_idle_sessions(sweeping: Registry) -> None:
    location = sweeping.client.post("/v2/idle/blobs/uploads/").headers["Location"]
    deadline = time.monotonic() + 60
    while sweeping.client.get(location).status_code != 404:
        assert time.monotonic() < deadline, "the idle session was not swept"
        time.sleep(0.2)
    assert sweeping.stray_files() == [] and sessions_in_db(sweeping) == 0


def test_sweep_keeps_active_sessions(registry: Registry) -> None:
    idle = registry.client.post("/v2/s/blobs/uploads/").headers["Location"]
    registry.client.patch(idle, content=b"abc", headers={"Content-Range": "0-2"})
    hub = registry.hub
    assert sweep_uploads(hub, max_idle=3600) == []
    removed = sweep_uploads(hub, max_idle=3600, now=time.time() + 7200)
    assert removed == [idle.rsplit("/", 1)[1]]
    assert registry.client.get(idle).status_code == 404
    assert sessions_in_db(registry) == 0


def test_a_rejected_index_names_a_few_missing_children_and_counts_them(
    registry: Registry,
) -> None:
    children = [{"mediaType": MediaType.OCI_MANIFEST.value,
                 "digest": digest_of(str(i).encode()), "size": 10} for i in range(3000)]
    index = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX.value,
                        "manifests": children}).encode()
    r = registry.put_manifest("idx", "v1", index, MediaType.OCI_INDEX.value)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert len(r.content) < 4096
    detail = r.json()["errors"][0]["detail"]
    assert detail["missing_count"] == 3000 and len(detail["missing"]) == 10
    assert "nor 2999 more" in r.json()["errors"][0]["message"]


def test_error_details_are_bounded_in_size() -> None:
    huge = {"digest": "sha256:abc", "missing": ["x" * 70] * 5000}
    small = bounded_detail(huge, 8192)
    assert isinstance(small, dict)
    assert small["truncated"] is True and small["digest"] == "sha256:abc"
    assert len(json.dumps(small)) < 8192
    assert bounded_detail({"a": 1}, 8192) == {"a": 1}
