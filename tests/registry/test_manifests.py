"""Manifests: push/pull by tag and digest, negotiation, validation, limits, deletes."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from tests.registry.conftest import Registry, digest_of, error_code
from wasmhub.oci.media_types import MediaType
from wasmhub.registry.models import Manifest, Tag


def rows(registry: Registry, model: type[Manifest] | type[Tag]) -> int:
    with registry.hub.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_push_and_pull_by_tag_and_digest(registry: Registry) -> None:
    payload = registry.image("plugins/hello")
    r = registry.put_manifest("plugins/hello", "v1", payload)
    assert r.status_code == 201
    digest = digest_of(payload)
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.headers["Location"] == f"/v2/plugins/hello/manifests/{digest}"
    assert "OCI-Subject" not in r.headers
    for ref in ("v1", digest):
        got = registry.client.get(f"/v2/plugins/hello/manifests/{ref}",
                                  headers={"Accept": MediaType.OCI_MANIFEST.value})
        assert got.status_code == 200 and got.content == payload
        assert got.headers["Content-Type"] == MediaType.OCI_MANIFEST
        assert got.headers["Docker-Content-Digest"] == digest
        head = registry.client.head(f"/v2/plugins/hello/manifests/{ref}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str(len(payload))
        assert head.headers["Docker-Content-Digest"] == digest
    # The payload is also a blob in the store, the source of truth.
    assert registry.hub.storage.stat(digest) is not None


def test_push_by_digest_and_retag(registry: Registry) -> None:
    payload = registry.image("r")
    digest = digest_of(payload)
    assert registry.put_manifest("r", digest, payload).status_code == 201
    assert registry.put_manifest("r", "latest", payload).status_code == 201
    other = registry.image("r", b"another layer")
    assert registry.put_manifest("r", "latest", other).status_code == 201
    got = registry.client.get("/v2/r/manifests/latest")
    assert got.headers["Docker-Content-Digest"] == digest_of(other)
    assert registry.client.get(f"/v2/r/manifests/{digest}").content == payload


def test_sha512_reference(registry: Registry) -> None:
    payload = registry.image("r")
    ref = "sha512:" + hashlib.sha512(payload).hexdigest()
    r = registry.put_manifest("r", ref, payload)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == ref
    assert registry.client.get(f"/v2/r/manifests/{ref}").content == payload


def test_digest_reference_mismatch(registry: Registry) -> None:
    payload = registry.image("r")
    r = registry.put_manifest("r", digest_of(b"something else"), payload)
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"
    assert rows(registry, Manifest) == 0


@pytest.mark.parametrize(
    "media_type", [MediaType.DOCKER_MANIFEST.value, MediaType.OCI_MANIFEST.value]
)
def test_accept_negotiation(registry: Registry, media_type: str) -> None:
    payload = registry.image("neg", mediaType=media_type)
    assert registry.put_manifest("neg", "t", payload, media_type).status_code == 201
    ok = registry.client.get("/v2/neg/manifests/t", headers={
        "Accept": f"{MediaType.OCI_INDEX}, {media_type};q=0.9"})
    assert ok.status_code == 200 and ok.headers["Content-Type"] == media_type
    other = (MediaType.OCI_MANIFEST if media_type == MediaType.DOCKER_MANIFEST
             else MediaType.DOCKER_MANIFEST)
    no = registry.client.get("/v2/neg/manifests/t", headers={"Accept": other.value})
    assert no.status_code == 404 and error_code(no) == "MANIFEST_UNKNOWN"
    anything = registry.client.get("/v2/neg/manifests/t", headers={"Accept": "*/*"})
    assert anything.status_code == 200


def test_index_and_docker_list(registry: Registry) -> None:
    child = registry.image("multi")
    child_digest = digest_of(child)
    registry.put_manifest("multi", child_digest, child)
    for media_type in (MediaType.OCI_INDEX.value, MediaType.DOCKER_MANIFEST_LIST.value):
        index = json.dumps({
            "schemaVersion": 2, "mediaType": media_type,
            "manifests": [{"mediaType": MediaType.OCI_MANIFEST.value, "digest": child_digest,
                           "size": len(child), "platform": {"os": "wasip1",
                                                            "architecture": "wasm"}}],
        }).encode()
        r = registry.put_manifest("multi", "idx", index, media_type)
        assert r.status_code == 201, r.text
        got = registry.client.get("/v2/multi/manifests/idx", headers={"Accept": media_type})
        assert got.status_code == 200 and got.headers["Content-Type"] == media_type


def test_index_child_must_exist(registry: Registry) -> None:
    missing = digest_of(b"no such manifest")
    index = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX.value,
                        "manifests": [{"mediaType": MediaType.OCI_MANIFEST.value,
                                       "digest": missing, "size": 3}]}).encode()
    r = registry.put_manifest("multi", "idx", index, MediaType.OCI_INDEX.value)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"]["digest"] == missing
    assert rows(registry, Manifest) == 0 and rows(registry, Tag) == 0


def test_referenced_blobs_must_exist_in_the_repository(registry: Registry) -> None:
    payload = registry.image("elsewhere")  # blobs pushed to another repository
    r = registry.put_manifest("here", "v1", payload)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert rows(registry, Manifest) == 0 and rows(registry, Tag) == 0
    assert registry.client.get("/v2/here/manifests/v1").status_code == 404


@pytest.mark.parametrize(
    ("payload", "media_type"),
    [
        (b"{not json", MediaType.OCI_MANIFEST.value),
        (b'{"schemaVersion": 1}', MediaType.OCI_MANIFEST.value),
        (b'{"schemaVersion": 2, "config": {}}', MediaType.OCI_MANIFEST.value),
        (b'{"schemaVersion": 2}', "application/vnd.unknown+json"),
        (b'{"schemaVersion": 2, "manifests": []}', "text/plain"),
    ],
)
def test_malformed_manifests(registry: Registry, payload: bytes, media_type: str) -> None:
    r = registry.put_manifest("bad", "v1", payload, media_type)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    assert rows(registry, Manifest) == 0 and rows(registry, Tag) == 0


def test_manifest_over_the_limit(registry: Registry) -> None:
    limit = registry.hub.settings.max_manifest_bytes
    payload = registry.image("big", annotations={"pad": "x" * limit})
    r = registry.put_manifest("big", "v1", payload)
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"

    def chunks() -> list[bytes]:  # no Content-Length: the limit applies while reading
        return [payload[i:i + 65536] for i in range(0, len(payload), 65536)]

    r = registry.client.put("/v2/big/manifests/v1", content=iter(chunks()),
                            headers={"Content-Type": MediaType.OCI_MANIFEST.value})
    assert r.status_code == 413 and error_code(r) == "SIZE_INVALID"
    assert rows(registry, Manifest) == 0


@pytest.mark.parametrize(
    "tag", [".hidden", ".INVALID_MANIFEST_NAME", "-x", "a" * 129, "bad%20tag", "sha256:zz"]
)
def test_invalid_tag(registry: Registry, tag: str) -> None:
    """A PUT with an invalid tag is a bad request; a GET or HEAD by a reference that can
    name nothing finds nothing (404 MANIFEST_UNKNOWN, as the conformance tests expect)."""
    r = registry.put_manifest("r", tag, registry.image("r"))
    assert r.status_code == 400 and error_code(r) in {"MANIFEST_INVALID", "DIGEST_INVALID"}
    r = registry.client.get(f"/v2/r/manifests/{tag}")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
    assert registry.client.head(f"/v2/r/manifests/{tag}").status_code == 404


def test_unknown_manifest(registry: Registry) -> None:
    for ref in ("nope", digest_of(b"nope")):
        r = registry.client.get(f"/v2/nothing/manifests/{ref}")
        assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"
        assert registry.client.head(f"/v2/nothing/manifests/{ref}").status_code == 404


def test_delete_by_tag_keeps_the_manifest(registry: Registry) -> None:
    digest, _ = registry.push_image("d", "v1")
    registry.put_manifest("d", "v2", registry.client.get(f"/v2/d/manifests/{digest}").content)
    r = registry.client.delete("/v2/d/manifests/v1")
    assert r.status_code == 202
    assert registry.client.get("/v2/d/manifests/v1").status_code == 404
    assert registry.client.get("/v2/d/manifests/v2").status_code == 200
    assert registry.client.get(f"/v2/d/manifests/{digest}").status_code == 200


def test_delete_by_digest_removes_its_tags(registry: Registry) -> None:
    digest, payload = registry.push_image("d", "v1")
    registry.put_manifest("d", "v2", payload)
    assert registry.client.delete(f"/v2/d/manifests/{digest}").status_code == 202
    for ref in ("v1", "v2", digest):
        assert registry.client.get(f"/v2/d/manifests/{ref}").status_code == 404
    assert rows(registry, Tag) == 0 and rows(registry, Manifest) == 0
    r = registry.client.delete(f"/v2/d/manifests/{digest}")
    assert r.status_code == 404 and error_code(r) == "MANIFEST_UNKNOWN"


def test_same_manifest_in_two_repositories(registry: Registry) -> None:
    a, payload = registry.push_image("one", "v1")
    registry.image("two")  # the same blobs, pushed to the second repository
    assert registry.put_manifest("two", "v1", payload).status_code == 201
    registry.client.delete(f"/v2/one/manifests/{a}")
    assert registry.client.get("/v2/two/manifests/v1").content == payload
