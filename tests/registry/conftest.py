"""Fixtures for the /v2/ tests: an in-process client on the full app, on both databases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.oci.media_types import MediaType
from wasmhub.settings import Settings


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """A TestClient with the few pushes most tests need."""

    def __init__(self, client: TestClient, hub: Hub) -> None:
        self.client = client
        self.hub = hub

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        r = self.client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest},
                             content=data)
        assert r.status_code == 201, r.text
        return digest

    def image(self, repo: str, layer: bytes = b"wasm-module", *,
              config: bytes = b"{}", **extra: Any) -> bytes:
        """Push config and layer blobs; return an OCI manifest referencing them.

        Generic image media types: these tests are about the registry, and a Wasm
        media type would (rightly) make the plugin validator inspect the layer bytes.
        """
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MediaType.OCI_MANIFEST.value,
            "config": {"mediaType": MediaType.OCI_CONFIG.value,
                       "digest": self.push_blob(repo, config), "size": len(config)},
            "layers": [{"mediaType": MediaType.OCI_LAYER.value,
                        "digest": self.push_blob(repo, layer), "size": len(layer)}],
        }
        doc.update(extra)
        return json.dumps(doc).encode()

    def put_manifest(self, repo: str, ref: str, payload: bytes,
                     media_type: str = MediaType.OCI_MANIFEST.value) -> httpx.Response:
        return self.client.put(f"/v2/{repo}/manifests/{ref}", content=payload,
                               headers={"Content-Type": media_type})

    def push_image(self, repo: str, tag: str, layer: bytes = b"wasm-module",
                   **extra: Any) -> tuple[str, bytes]:
        payload = self.image(repo, layer, **extra)
        r = self.put_manifest(repo, tag, payload)
        assert r.status_code == 201, r.text
        return r.headers["Docker-Content-Digest"], payload

    def stray_files(self) -> list[str]:
        """Anything under uploads/ (partial data) once every request is done."""
        uploads = Path(self.hub.settings.data_dir) / "uploads"
        return sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*"))


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"errors"}, body
    code: str = body["errors"][0]["code"]
    return code


@pytest.fixture
def app_hub(settings: Settings) -> Iterator[Hub]:
    hub = Hub.open(settings)
    yield hub
    hub.close()


@pytest.fixture
def registry(settings: Settings, app_hub: Hub) -> Iterator[Registry]:
    with TestClient(create_app(settings, app_hub)) as client:
        yield Registry(client, app_hub)
