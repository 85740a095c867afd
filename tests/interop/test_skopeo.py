"""skopeo (containers/image) against the registry: copy in and out, inspect, tags, delete."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.interop.clients import skopeo, skopeo_json
from tests.support.oci_images import (
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    Artifact,
    ImageIndex,
    all_digests,
    make_image,
    make_index,
    read_layout,
    sha256_digest,
    write_layout,
)
from tests.support.servers import RunningServer

pytestmark = pytest.mark.interop

NO_TLS = "--dest-tls-verify=false"
SRC_NO_TLS = "--src-tls-verify=false"


def push(server: RunningServer, layout: Path, tag: str, repo: str, *, all_: bool = False) -> None:
    extra = ["--all"] if all_ else []
    skopeo("copy", "--preserve-digests", NO_TLS, *extra,
           f"oci:{layout}:{tag}", f"docker://{server.host}/{repo}:{tag}")


def pull(server: RunningServer, repo: str, tag: str, out: Path, *, all_: bool = False) -> None:
    extra = ["--all"] if all_ else []
    skopeo("copy", "--preserve-digests", SRC_NO_TLS, *extra,
           f"docker://{server.host}/{repo}:{tag}", f"oci:{out}:{tag}")


def assert_served_verbatim(server: RunningServer, repo: str, artifact: Artifact) -> None:
    """The registry returns every manifest and blob byte for byte, under its digest."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        manifests = [artifact]
        if isinstance(artifact, ImageIndex):
            manifests += list(artifact.images)
        for item in manifests:
            resp = client.get(f"/v2/{repo}/manifests/{item.digest}",
                              headers={"Accept": MANIFEST_ACCEPT})
            assert resp.status_code == 200, resp.text
            assert resp.content == item.manifest
            assert resp.headers["docker-content-digest"] == item.digest
            assert resp.headers["content-type"] == item.media_type
        for blob in artifact.blobs:
            resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", follow_redirects=True)
            assert resp.status_code == 200, resp.text
            assert sha256_digest(resp.content) == blob.digest


def test_copy_image_round_trip(registry_server: RunningServer, repo: str, tmp_path: Path) -> None:
    image = make_image("round-trip")
    src = write_layout(tmp_path / "src", {"v1": image})

    push(registry_server, src, "v1", repo)
    assert_served_verbatim(registry_server, repo, image)

    out = tmp_path / "out"
    pull(registry_server, repo, "v1", out)
    layout = read_layout(out)
    layout.verify()
    assert layout.refs["v1"]["digest"] == image.digest
    assert layout.refs["v1"]["mediaType"] == OCI_MANIFEST
    assert layout.blob(image.digest) == image.manifest
    assert layout.blob_digests() == all_digests(image)


def test_copy_multi_arch_index_round_trip(
    registry_server: RunningServer, repo: str, tmp_path: Path
) -> None:
    index = make_index("multi-arch")
    src = write_layout(tmp_path / "src", {"multi": index})

    push(registry_server, src, "multi", repo, all_=True)
    assert_served_verbatim(registry_server, repo, index)

    out = tmp_path / "out"
    pull(registry_server, repo, "multi", out, all_=True)
    layout = read_layout(out)
    layout.verify()
    assert layout.refs["multi"]["digest"] == index.digest
    assert layout.refs["multi"]["mediaType"] == OCI_INDEX
    assert layout.blob(index.digest) == index.manifest
    assert layout.blob_digests() == all_digests(index)


def test_copy_one_platform_out_of_an_index(
    registry_server: RunningServer, repo: str, tmp_path: Path
) -> None:
    index = make_index("one-platform")
    push(registry_server, write_layout(tmp_path / "src", {"multi": index}), "multi", repo,
         all_=True)
    arm64 = next(i for i in index.images if i.platform and i.platform["architecture"] == "arm64")

    out = tmp_path / "out"
    skopeo("copy", "--preserve-digests", SRC_NO_TLS, "--override-arch", "arm64",
           f"docker://{registry_server.host}/{repo}:multi", f"oci:{out}:arm")
    layout = read_layout(out)
    layout.verify()
    assert layout.refs["arm"]["digest"] == arm64.digest
    assert layout.blob_digests() == all_digests(arm64)


def test_inspect(registry_server: RunningServer, repo: str, tmp_path: Path) -> None:
    image = make_image("inspect", annotations={"org.opencontainers.image.title": "inspect"})
    push(registry_server, write_layout(tmp_path / "src", {"v1": image}), "v1", repo)
    ref = f"docker://{registry_server.host}/{repo}:v1"

    info = skopeo_json("inspect", "--tls-verify=false", ref)
    assert info["Digest"] == image.digest
    assert info["Name"] == f"{registry_server.host}/{repo}"
    assert info["RepoTags"] == ["v1"]
    assert info["Layers"] == [layer.digest for layer in image.layers]
    assert info["Architecture"] == "amd64"
    assert info["Os"] == "linux"
    assert info["Labels"] is None or isinstance(info["Labels"], dict)

    raw = skopeo("inspect", "--tls-verify=false", "--raw", ref).stdout
    assert raw.encode() == image.manifest

    config = skopeo("inspect", "--tls-verify=false", "--config", "--raw", ref).stdout
    assert config.encode() == image.config.data

    by_digest = skopeo_json(
        "inspect", "--tls-verify=false", f"docker://{registry_server.host}/{repo}@{image.digest}"
    )
    assert by_digest["Digest"] == image.digest


def test_list_tags(registry_server: RunningServer, repo: str, tmp_path: Path) -> None:
    images: dict[str, Artifact] = {
        tag: make_image(f"tags-{tag}", layer_sizes=(512,)) for tag in ("1.0", "1.1", "latest")
    }
    src = write_layout(tmp_path / "src", images)
    for tag in images:
        push(registry_server, src, tag, repo)

    listed = skopeo_json("list-tags", "--tls-verify=false",
                         f"docker://{registry_server.host}/{repo}")
    assert listed["Repository"] == f"{registry_server.host}/{repo}"
    assert sorted(listed["Tags"]) == ["1.0", "1.1", "latest"]


def test_delete(registry_server: RunningServer, repo: str, tmp_path: Path) -> None:
    keep = make_image("delete-keep", layer_sizes=(256,))
    gone = make_image("delete-gone", layer_sizes=(256,))
    src = write_layout(tmp_path / "src", {"keep": keep, "gone": gone})
    push(registry_server, src, "keep", repo)
    push(registry_server, src, "gone", repo)

    skopeo("delete", "--tls-verify=false", f"docker://{registry_server.host}/{repo}:gone")

    with httpx.Client(base_url=registry_server.url, timeout=30) as client:
        resp = client.get(f"/v2/{repo}/manifests/{gone.digest}",
                          headers={"Accept": MANIFEST_ACCEPT})
        assert resp.status_code == 404
        assert json.loads(resp.content)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert client.get(f"/v2/{repo}/manifests/gone",
                          headers={"Accept": MANIFEST_ACCEPT}).status_code == 404
        kept = client.get(f"/v2/{repo}/manifests/keep", headers={"Accept": MANIFEST_ACCEPT})
        assert kept.status_code == 200
        assert kept.content == keep.manifest

    listed = skopeo_json("list-tags", "--tls-verify=false",
                         f"docker://{registry_server.host}/{repo}")
    assert listed["Tags"] == ["keep"]


def test_copy_between_repositories(
    registry_server: RunningServer, repo: str, tmp_path: Path
) -> None:
    """Registry to registry: skopeo mounts the blobs cross-repository (or re-uploads)."""
    index = make_index("cross-repo")
    push(registry_server, write_layout(tmp_path / "src", {"v1": index}), "v1", repo, all_=True)
    other = repo + "-copy"
    skopeo("copy", "--all", "--preserve-digests", SRC_NO_TLS, NO_TLS,
           f"docker://{registry_server.host}/{repo}:v1",
           f"docker://{registry_server.host}/{other}:v2")
    assert_served_verbatim(registry_server, other, index)
    info = skopeo_json("inspect", "--tls-verify=false", "--raw",
                       f"docker://{registry_server.host}/{other}:v2")
    assert info["manifests"] == [image.descriptor() for image in index.images]
