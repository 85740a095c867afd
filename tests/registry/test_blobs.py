"""Blob GET/HEAD/DELETE, Range requests and digest errors."""

from __future__ import annotations

import os

import pytest

from tests.registry.conftest import Registry, digest_of, error_code

BIG = os.urandom(3 * 1024 * 1024 + 123)


def test_get_and_head(registry: Registry) -> None:
    digest = registry.push_blob("plugins/auth", b"hello blob")
    r = registry.client.get(f"/v2/plugins/auth/blobs/{digest}")
    assert r.status_code == 200 and r.content == b"hello blob"
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Content-Type"] == "application/octet-stream"
    h = registry.client.head(f"/v2/plugins/auth/blobs/{digest}")
    assert h.status_code == 200 and h.content == b""
    assert h.headers["Content-Length"] == "10"
    assert h.headers["Docker-Content-Digest"] == digest


def test_large_blob_streams(registry: Registry) -> None:
    digest = registry.push_blob("big", BIG)
    r = registry.client.get(f"/v2/big/blobs/{digest}")
    assert r.status_code == 200 and r.content == BIG
    assert r.headers["Content-Length"] == str(len(BIG))


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=5-", 5, len(BIG) - 1), ("bytes=-7", len(BIG) - 7,
     len(BIG) - 1), ("bytes=1048570-2097160", 1048570, 2097160),
     ("bytes=10-99999999", 10, len(BIG) - 1)],
)
def test_range(registry: Registry, header: str, start: int, end: int) -> None:
    digest = registry.push_blob("big", BIG)
    r = registry.client.get(f"/v2/big/blobs/{digest}", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == BIG[start:end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(BIG)}"


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=20-10", "bytes=-0"])
def test_unsatisfiable_range(registry: Registry, header: str) -> None:
    digest = registry.push_blob("r", b"0123456789")
    r = registry.client.get(f"/v2/r/blobs/{digest}", headers={"Range": header})
    assert r.status_code == 416 and error_code(r) == "RANGE_INVALID"
    assert r.headers["Content-Range"] == "bytes */10"


def test_malformed_range_is_ignored(registry: Registry) -> None:
    digest = registry.push_blob("r", b"0123456789")
    r = registry.client.get(f"/v2/r/blobs/{digest}", headers={"Range": "items=1-2"})
    assert r.status_code == 200 and r.content == b"0123456789"


def test_unknown_blob(registry: Registry) -> None:
    missing = digest_of(b"never pushed")
    for method in ("GET", "HEAD", "DELETE"):
        r = registry.client.request(method, f"/v2/r/blobs/{missing}")
        assert r.status_code == 404
        if method != "HEAD":
            assert error_code(r) == "BLOB_UNKNOWN"


def test_blob_is_scoped_to_its_repository(registry: Registry) -> None:
    digest = registry.push_blob("team-a/x", b"secret layer")
    assert registry.client.head(f"/v2/team-a/x/blobs/{digest}").status_code == 200
    r = registry.client.get(f"/v2/team-b/x/blobs/{digest}")
    assert r.status_code == 404 and error_code(r) == "BLOB_UNKNOWN"


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 32, "nope", "sha256:" + "Z" * 64])
def test_invalid_digest(registry: Registry, digest: str) -> None:
    r = registry.client.get(f"/v2/r/blobs/{digest}")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


@pytest.mark.parametrize("name", ["UPPER", "a..b", "a/-b", "x" * 256])
def test_invalid_name(registry: Registry, name: str) -> None:
    r = registry.client.get(f"/v2/{name}/blobs/{digest_of(b'x')}")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"


def test_path_traversal_in_name(registry: Registry) -> None:
    # Encoded so the client does not normalise it away before it reaches the server.
    r = registry.client.get(f"/v2/a/%2E%2E/%2E%2E/etc/blobs/{digest_of(b'x')}")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"


def test_delete_unlinks_from_the_repository(registry: Registry) -> None:
    digest = registry.push_blob("del", b"to delete")
    r = registry.client.delete(f"/v2/del/blobs/{digest}")
    assert r.status_code == 202
    assert registry.client.head(f"/v2/del/blobs/{digest}").status_code == 404
    assert registry.client.delete(f"/v2/del/blobs/{digest}").status_code == 404


def test_multi_component_names(registry: Registry) -> None:
    name = "org/team/sub/blobs/manifests/plugin"
    digest = registry.push_blob(name, b"deep")
    r = registry.client.get(f"/v2/{name}/blobs/{digest}")
    assert r.status_code == 200 and r.content == b"deep"
