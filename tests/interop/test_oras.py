"""oras-py against the registry: a Wasm artifact pushed and pulled back unchanged."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import oras.client
import oras.oci
import pytest

from tests.support.oci_images import (
    MANIFEST_ACCEPT,
    OCI_EMPTY,
    OCI_MANIFEST,
    WASM_CONFIG,
    WASM_LAYER,
    canonical_json,
    sha256_digest,
    wasm_module,
)
from tests.support.servers import RunningServer

pytestmark = pytest.mark.interop

TITLE = "org.opencontainers.image.title"


@contextmanager
def in_directory(path: Path) -> Iterator[None]:
    """oras-py validates that pushed files sit under the working directory."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def client_for(server: RunningServer) -> Any:
    return oras.client.OrasClient(hostname=server.host, insecure=True)


def write_artifact(directory: Path, seed: str, size: int) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    module = directory / "plugin.wasm"
    module.write_bytes(wasm_module(seed, size))
    config = directory / "config.json"
    config.write_text(json.dumps({"name": seed, "abi": "0.2.1"}))
    return module, config


def raw_manifest(server: RunningServer, repo: str, reference: str) -> httpx.Response:
    resp = httpx.get(f"{server.url}/v2/{repo}/manifests/{reference}",
                     headers={"Accept": MANIFEST_ACCEPT}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_push_pull_wasm_artifact(
    registry_server: RunningServer, repo: str, tmp_path: Path, chunked: bool
) -> None:
    src = tmp_path / "src"
    # Chunked: 300 KB in 64 KiB PATCHes, so the upload really spans several requests.
    module, config = write_artifact(src, f"oras-{chunked}", 300_000 if chunked else 4096)
    target = f"{registry_server.host}/{repo}:v1.0.0"
    annotations = {"org.opencontainers.image.description": "interop test plugin",
                   "io.wasmhub.test": "yes"}
    client = client_for(registry_server)
    with in_directory(src):
        resp = client.push(
            target,
            files=[f"plugin.wasm:{WASM_LAYER}"],
            manifest_config=f"config.json:{WASM_CONFIG}",
            manifest_annotations=annotations,
            do_chunked=chunked,
            chunk_size=65_536,
            quiet=True,
        )
    assert resp.status_code == 201
    pushed_digest = resp.headers["Docker-Content-Digest"]

    manifest = client.get_manifest(target)
    assert manifest["annotations"] == annotations
    assert manifest["config"]["mediaType"] == WASM_CONFIG
    assert manifest["config"]["digest"] == sha256_digest(config.read_bytes())
    [layer] = manifest["layers"]
    assert layer["mediaType"] == WASM_LAYER
    assert layer["digest"] == sha256_digest(module.read_bytes())
    assert layer["size"] == module.stat().st_size
    assert layer["annotations"][TITLE] == "plugin.wasm"

    raw = raw_manifest(registry_server, repo, "v1.0.0")
    assert raw.headers["docker-content-digest"] == pushed_digest
    assert sha256_digest(raw.content) == pushed_digest
    assert raw.headers["content-type"] == OCI_MANIFEST

    out = tmp_path / "out"
    files = client.pull(target, outdir=str(out))
    assert [Path(f).name for f in files] == ["plugin.wasm"]
    assert (out / "plugin.wasm").read_bytes() == module.read_bytes()

    config_blob = client.get_blob(target, manifest["config"]["digest"])
    assert config_blob.status_code == 200
    assert config_blob.content == config.read_bytes()


def test_artifact_type_and_empty_config(
    registry_server: RunningServer, repo: str, tmp_path: Path
) -> None:
    """An OCI 1.1 artifact manifest: ``artifactType`` with the empty config descriptor.

    oras-py's ``push`` cannot set ``artifactType``, so this uses its lower-level calls
    (``upload_blob``, ``upload_manifest``) the same way ``push`` does.
    """
    module, _ = write_artifact(tmp_path, "artifact-type", 8192)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")
    client = client_for(registry_server)
    container = client.get_container(f"{registry_server.host}/{repo}:art")

    layer = oras.oci.NewLayer(str(module), media_type=WASM_LAYER)
    layer["annotations"] = {TITLE: "plugin.wasm"}
    assert client.upload_blob(str(module), container, layer).status_code in (200, 201)
    config = {"mediaType": OCI_EMPTY, "digest": sha256_digest(b"{}"), "size": 2}
    assert client.upload_blob(str(empty), container, config).status_code in (200, 201)

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.wasmhub.plugin.v1",
        "config": config,
        "layers": [layer],
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }
    resp = client.upload_manifest(manifest, container)
    assert resp.status_code == 201
    digest = resp.headers["Docker-Content-Digest"]

    fetched = client.get_manifest(container)
    assert fetched["artifactType"] == "application/vnd.wasmhub.plugin.v1"
    assert fetched["config"] == config
    assert fetched["annotations"] == manifest["annotations"]
    raw = raw_manifest(registry_server, repo, digest)
    assert hashlib.sha256(raw.content).hexdigest() == digest.removeprefix("sha256:")

    out = tmp_path / "out"
    client.pull(container, outdir=str(out))
    assert (out / "plugin.wasm").read_bytes() == module.read_bytes()


def test_tags_and_delete(registry_server: RunningServer, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_artifact(src, "tags", 1024)
    client = client_for(registry_server)
    with in_directory(src):
        for tag in ("0.1.0", "0.2.0", "latest"):
            client.push(f"{registry_server.host}/{repo}:{tag}",
                        files=[f"plugin.wasm:{WASM_LAYER}"],
                        manifest_config=f"config.json:{WASM_CONFIG}",
                        manifest_annotations={"io.wasmhub.tag": tag}, quiet=True)
    assert sorted(client.get_tags(f"{registry_server.host}/{repo}")) == [
        "0.1.0", "0.2.0", "latest"
    ]
    # distribution 2.8 does not sort a page, so only the page size is common ground.
    page = client.get_tags(f"{registry_server.host}/{repo}", N=2)
    assert len(set(page)) == 2
    assert set(page) <= {"0.1.0", "0.2.0", "latest"}

    assert client.delete_tag(f"{registry_server.host}/{repo}", "0.1.0") is True
    assert sorted(client.get_tags(f"{registry_server.host}/{repo}")) == ["0.2.0", "latest"]
    gone = httpx.get(f"{registry_server.url}/v2/{repo}/manifests/0.1.0",
                     headers={"Accept": MANIFEST_ACCEPT}, timeout=30)
    assert gone.status_code == 404
    # Deleting by digest removed that manifest only; the other tags still resolve.
    assert raw_manifest(registry_server, repo, "latest").json()["annotations"] == {
        "io.wasmhub.tag": "latest"
    }


def test_manifest_bytes_are_stored_verbatim(
    registry_server: RunningServer, repo: str, tmp_path: Path
) -> None:
    """The registry must not re-serialise a manifest: digest = sha256 of the PUT body."""
    module, _ = write_artifact(tmp_path, "verbatim", 512)
    client = client_for(registry_server)
    container = client.get_container(f"{registry_server.host}/{repo}:pretty")
    layer = oras.oci.NewLayer(str(module), media_type=WASM_LAYER)
    client.upload_blob(str(module), container, layer)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")
    config = {"mediaType": OCI_EMPTY, "digest": sha256_digest(b"{}"), "size": 2}
    client.upload_blob(str(empty), container, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                "layers": [layer]}
    body = json.dumps(manifest, indent=3).encode() + b"\n"  # deliberately not canonical
    assert body != canonical_json(manifest)
    put = httpx.put(f"{registry_server.url}/v2/{repo}/manifests/pretty", content=body,
                    headers={"Content-Type": OCI_MANIFEST}, timeout=30)
    assert put.status_code == 201, put.text
    assert put.headers["docker-content-digest"] == sha256_digest(body)
    assert raw_manifest(registry_server, repo, "pretty").content == body
