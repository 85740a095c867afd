"""RegistryClient against the real CNCF distribution registry."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import RunningServer, free_port
from wasmhub.client.errors import (
    RegistryNotFoundError,
    UnreachableError,
)
from wasmhub.client.registry import RegistryClient
from wasmhub.client.transfer import copy_image
from wasmhub.errors import NotFoundError, UpstreamError
from wasmhub.oci.digest import sha256_digest
from wasmhub.oci.media_types import MediaType
from wasmhub.oci.reference import Reference

pytestmark = pytest.mark.interop


def repo() -> str:
    return f"test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(registry: RunningServer) -> Iterator[RegistryClient]:
    c = RegistryClient(registry.host, chunk_size=256 * 1024)
    yield c
    c.close()


def push_simple(client: RegistryClient, repository: str, tag: str, layer: bytes) -> str:
    config = b"{}"
    client.upload_blob(repository, config)
    client.upload_blob(repository, layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MediaType.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/octet-stream",
                    "digest": sha256_digest(layer), "size": len(layer)}],
    }).encode()
    return client.put_manifest(repository, tag, manifest, MediaType.OCI_MANIFEST)


def test_ping_uses_plain_http_on_loopback(client: RegistryClient) -> None:
    info = client.ping()
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["api_version"] == "registry/2.0"


def test_monolithic_upload_and_download(client: RegistryClient, tmp_path: Path) -> None:
    name = repo()
    data = b"small blob " + os.urandom(100)
    digest = client.upload_blob(name, data)
    assert digest == sha256_digest(data)
    assert client.blob_exists(name, digest)
    assert client.fetch_blob(name, digest) == data
    out = tmp_path / "blob"
    assert client.download_blob(name, digest, out) == len(data)
    assert out.read_bytes() == data


def test_chunked_upload_reports_progress(client: RegistryClient, tmp_path: Path) -> None:
    name = repo()
    data = os.urandom(3 * 256 * 1024 + 12345)  # four PATCHes of the 256 KiB chunk size
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    digest = client.upload_blob(name, source, progress=lambda d, t: seen.append((d, t)))
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert [d for d, _ in seen] == [262144, 524288, 786432, len(data)]
    assert all(t == len(data) for _, t in seen)
    streamed: list[int] = []
    out = tmp_path / "copy.bin"
    client.download_blob(name, digest, out, progress=lambda d, t: streamed.append(d))
    assert out.read_bytes() == data
    assert streamed[-1] == len(data)


def test_fetch_limit_and_failed_download_leave_nothing(
    client: RegistryClient, tmp_path: Path
) -> None:
    name = repo()
    digest = client.upload_blob(name, b"x" * 100)
    with pytest.raises(UpstreamError, match="larger than 10 bytes"):
        client.fetch_blob(name, digest, max_bytes=10)
    out = tmp_path / "blob"
    with pytest.raises(RegistryNotFoundError):
        client.download_blob(name, sha256_digest(b"not there"), out)
    assert list(tmp_path.iterdir()) == []


def test_blob_missing(client: RegistryClient) -> None:
    name = repo()
    push_simple(client, name, "v1", b"x")
    missing = sha256_digest(b"not there")
    assert not client.blob_exists(name, missing)
    with pytest.raises(RegistryNotFoundError, match=r"BLOB_UNKNOWN|blob unknown"):
        client.fetch_blob(name, missing)


def test_manifest_round_trip_and_head(client: RegistryClient) -> None:
    name = repo()
    digest = push_simple(client, name, "v1", b"layer")
    manifest = client.get_manifest(name, "v1")
    assert manifest.digest == digest
    assert manifest.media_type == MediaType.OCI_MANIFEST
    assert client.get_manifest(name, digest).payload == manifest.payload
    head = client.head_manifest(name, "v1")
    assert head is not None and head.digest == digest and head.size == len(manifest.payload)
    assert client.head_manifest(name, "nope") is None


def test_tags_pagination_and_catalog(client: RegistryClient) -> None:
    name = repo()
    for tag in ("a", "b", "c", "d", "e"):
        push_simple(client, name, tag, b"same layer")
    # distribution 2.8 ignores ``n`` on tags/list but paginates _catalog with Link headers
    assert sorted(client.list_tags(name, page_size=2)) == ["a", "b", "c", "d", "e"]
    other = repo()
    push_simple(client, other, "v1", b"same layer")
    pages: list[str] = []
    original = client._request

    def spy(method: str, path: str, **kwargs: object) -> httpx.Response:
        pages.append(path)
        return original(method, path, **kwargs)  # type: ignore[arg-type]

    client._request = spy  # type: ignore[method-assign]
    everything = client.catalog(page_size=1)
    assert {name, other} <= set(everything)
    assert len(pages) >= len(everything)  # one request per repository: Link was followed


def test_mount_and_copy_across_repositories(client: RegistryClient) -> None:
    src, dst = repo(), repo()
    layer = os.urandom(1000)
    digest = push_simple(client, src, "v1", layer)
    assert client.mount_blob(dst, sha256_digest(layer), src)
    assert client.blob_exists(dst, sha256_digest(layer))
    copied = copy_image(client, Reference.parse(f"{client.registry}/{src}:v1"),
                        client, Reference.parse(f"{client.registry}/{dst}:copy"))
    assert copied == digest
    assert client.get_manifest(dst, "copy").digest == digest
    # a mount from a repository that lacks the blob falls back to an upload session
    assert not client.mount_blob(repo(), sha256_digest(b"nowhere"), src)


def test_index_copy(client: RegistryClient) -> None:
    src, dst = repo(), repo()
    child = push_simple(client, src, "child", b"child layer")
    child_size = len(client.get_manifest(src, child).payload)
    index = json.dumps({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [
        {"mediaType": MediaType.OCI_MANIFEST, "digest": child, "size": child_size}]}).encode()
    index_digest = client.put_manifest(src, "multi", index, MediaType.OCI_INDEX)
    copy_image(client, Reference.parse(f"{client.registry}/{src}:multi"),
               client, Reference.parse(f"{client.registry}/{dst}:multi"))
    assert client.get_manifest(dst, "multi").digest == index_digest
    assert client.head_manifest(dst, child) is not None


def test_referrers_fallback_and_delete(client: RegistryClient) -> None:
    name = repo()
    digest = push_simple(client, name, "v1", b"to delete")
    assert client.referrers(name, digest)["manifests"] == []
    client.delete_manifest(name, digest)
    assert client.head_manifest(name, digest) is None


def test_unknown_repository_error(client: RegistryClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.list_tags("no/such/repo")
    assert info.value.message == (
        f"{client.registry}/no/such/repo: NAME_UNKNOWN: repository name not known to registry")
    with pytest.raises(RegistryNotFoundError, match="manifest unknown") as minfo:
        client.get_manifest(repo(), "latest")
    assert minfo.value.code == "MANIFEST_UNKNOWN"
    assert minfo.value.status == 404


def test_unreachable_host_is_one_line() -> None:
    port = free_port()
    with RegistryClient(f"127.0.0.1:{port}") as c, pytest.raises(UnreachableError) as info:
        c.ping()
    assert str(info.value) == f"cannot reach registry at 127.0.0.1:{port}: connection refused"
    assert isinstance(info.value, UpstreamError)


def test_digest_verification(client: RegistryClient, registry: RunningServer) -> None:
    name = repo()
    push_simple(client, name, "v1", b"payload")
    # asking for a manifest by a tag gives the registry's digest; the bytes must hash to it
    manifest = client.get_manifest(name, "v1")
    raw = httpx.get(f"{registry.url}/v2/{name}/manifests/v1",
                    headers={"Accept": MediaType.OCI_MANIFEST}).content
    assert sha256_digest(raw) == manifest.digest
