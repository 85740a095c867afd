"""Uploads: monolithic, POST-PUT, chunked, status, cancel, mount, and every error path."""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqlalchemy import func, select

from tests.registry.conftest import Registry, digest_of, error_code
from wasmhub.registry.models import Blob, UploadSession

DATA = os.urandom(2 * 1024 * 1024 + 5)


def start(registry: Registry, repo: str) -> str:
    r = registry.client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v2/{repo}/blobs/uploads/{r.headers['Docker-Upload-UUID']}"
    assert r.headers["Range"] == "0-0"
    return str(r.headers["Location"])


def count(registry: Registry, model: type[Blob] | type[UploadSession]) -> int:
    with registry.hub.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_monolithic_post(registry: Registry) -> None:
    digest = digest_of(DATA)
    r = registry.client.post("/v2/m/blobs/uploads/", params={"digest": digest}, content=DATA)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/m/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert registry.client.get(r.headers["Location"]).content == DATA
    assert registry.stray_files() == []


def test_monolithic_wrong_digest_stores_nothing(registry: Registry) -> None:
    wrong = digest_of(b"other")
    r = registry.client.post("/v2/m/blobs/uploads/", params={"digest": wrong}, content=DATA)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert registry.client.head(f"/v2/m/blobs/{wrong}").status_code == 404
    assert registry.client.head(f"/v2/m/blobs/{digest_of(DATA)}").status_code == 404
    assert registry.stray_files() == [] and count(registry, Blob) == 0
    assert list(registry.hub.storage.walk()) == []


def test_monolithic_bad_digest_syntax(registry: Registry) -> None:
    r = registry.client.post("/v2/m/blobs/uploads/", params={"digest": "sha256:xyz"},
                             content=b"abc")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert registry.stray_files() == []


def test_post_then_put(registry: Registry) -> None:
    location = start(registry, "pp")
    digest = digest_of(DATA)
    r = registry.client.put(location, params={"digest": digest}, content=DATA,
                            headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == digest
    assert registry.client.get(f"/v2/pp/blobs/{digest}").content == DATA
    assert registry.client.get(location).status_code == 404
    assert registry.stray_files() == [] and count(registry, UploadSession) == 0


def test_chunked_upload_with_status(registry: Registry) -> None:
    location = start(registry, "chunky/repo")
    size = 1024 * 1024
    for offset in range(0, len(DATA), size):
        chunk = DATA[offset:offset + size]
        r = registry.client.patch(
            location, content=chunk,
            headers={"Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                     "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{offset + len(chunk) - 1}"
        location = r.headers["Location"]
    status = registry.client.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{len(DATA) - 1}"
    assert status.headers["Docker-Upload-UUID"] in location
    r = registry.client.put(location, params={"digest": digest_of(DATA)})
    assert r.status_code == 201
    assert registry.client.get(f"/v2/chunky/repo/blobs/{digest_of(DATA)}").content == DATA
    assert registry.stray_files() == [] and count(registry, UploadSession) == 0


def test_streamed_patch_without_content_range_and_final_chunk_on_put(registry: Registry) -> None:
    location = start(registry, "s")

    def body() -> Iterator[bytes]:
        yield DATA[:1000]
        yield DATA[1000:2000]

    r = registry.client.patch(location, content=body())
    assert r.status_code == 202 and r.headers["Range"] == "0-1999"
    r = registry.client.put(r.headers["Location"], params={"digest": digest_of(DATA)},
                            content=DATA[2000:],
                            headers={"Content-Range": f"2000-{len(DATA) - 1}"})
    assert r.status_code == 201, r.text
    assert registry.client.get(f"/v2/s/blobs/{digest_of(DATA)}").content == DATA


def test_out_of_order_chunk_is_416(registry: Registry) -> None:
    location = start(registry, "o")
    r = registry.client.patch(location, content=b"abc", headers={"Content-Range": "0-2"})
    assert r.status_code == 202
    for bad in ("10-12", "0-2"):
        r = registry.client.patch(location, content=b"abc", headers={"Content-Range": bad})
        assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert registry.client.get(location).headers["Range"] == "0-2"


def test_bad_content_range(registry: Registry) -> None:
    location = start(registry, "o")
    for header in ("garbage", "5-1", "0-9"):  # the last one disagrees with the length
        r = registry.client.patch(location, content=b"abc", headers={"Content-Range": header})
        assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert registry.client.get(location).headers["Range"] == "0-0"
    assert registry.client.delete(location).status_code == 204


def test_put_with_wrong_digest_discards_the_session(registry: Registry) -> None:
    location = start(registry, "w")
    registry.client.patch(location, content=b"abc")
    r = registry.client.put(location, params={"digest": digest_of(b"xyz")})
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert list(registry.hub.storage.walk()) == []
    assert registry.stray_files() == [] and count(registry, UploadSession) == 0
    assert registry.client.get(location).status_code == 404


def test_put_without_digest(registry: Registry) -> None:
    location = start(registry, "w")
    r = registry.client.put(location)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert registry.client.get(location).status_code == 204  # still resumable
    registry.client.delete(location)


def test_cancel(registry: Registry) -> None:
    location = start(registry, "c")
    registry.client.patch(location, content=b"partial")
    assert registry.client.delete(location).status_code == 204
    r = registry.client.get(location)
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    assert registry.client.delete(location).status_code == 404
    assert registry.stray_files() == [] and count(registry, UploadSession) == 0


def test_unknown_upload_ids(registry: Registry) -> None:
    for upload_id in ("0" * 32, "not-a-uuid", "A" * 32):
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            r = registry.client.request(
                method, f"/v2/u/blobs/uploads/{upload_id}",
                params={"digest": digest_of(b"")}, content=b"x",
            )
            assert r.status_code == 404, (upload_id, method)
            assert error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    r = registry.client.delete("/v2/u/blobs/uploads/..%2F..%2Fblobs")
    assert r.status_code == 404
    assert (registry.hub.settings.data_dir / "blobs").is_dir()


def test_upload_belongs_to_its_repository(registry: Registry) -> None:
    location = start(registry, "owner")
    upload_id = location.rsplit("/", 1)[1]
    r = registry.client.patch(f"/v2/thief/blobs/uploads/{upload_id}", content=b"x")
    assert r.status_code == 404 and error_code(r) == "BLOB_UPLOAD_UNKNOWN"
    registry.client.delete(location)


def test_empty_blob(registry: Registry) -> None:
    location = start(registry, "e")
    r = registry.client.put(location, params={"digest": digest_of(b"")})
    assert r.status_code == 201
    got = registry.client.get(f"/v2/e/blobs/{digest_of(b'')}")
    assert got.status_code == 200 and got.content == b""


def test_cross_repository_mount(registry: Registry) -> None:
    digest = registry.push_blob("source/repo", b"shared layer")
    r = registry.client.post("/v2/target/repo/blobs/uploads/",
                             params={"mount": digest, "from": "source/repo"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/target/repo/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    assert registry.client.get(f"/v2/target/repo/blobs/{digest}").content == b"shared layer"


def test_mount_falls_back_to_an_upload(registry: Registry) -> None:
    missing = digest_of(b"not there")
    for params in ({"mount": missing, "from": "source"}, {"mount": missing}):
        r = registry.client.post("/v2/target/blobs/uploads/", params=params)
        assert r.status_code == 202 and "Docker-Upload-UUID" in r.headers
        registry.client.delete(r.headers["Location"])
    r = registry.client.post("/v2/target/blobs/uploads/",
                             params={"mount": missing, "from": "BAD NAME"})
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"


def test_upload_to_invalid_name(registry: Registry) -> None:
    r = registry.client.post("/v2/Bad_Name/blobs/uploads/")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"
    assert registry.stray_files() == []
