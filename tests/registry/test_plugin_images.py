"""Pushing Wasm plugin images over /v2/: the standing validator refuses broken ones.

``Hub.open`` subscribes ``wasmhub.wasm.registry_hook``'s validator as a veto, so a
plugin layout whose module is not Wasm is answered MANIFEST_INVALID with the reason and
no manifest or tag is stored; a good plugin image is stored and reaches the catalog.
"""

from __future__ import annotations

import json

import httpx
import pytest
import wasmtime

from tests.registry.conftest import Registry, error_code
from wasmhub.catalog.service import CatalogService
from wasmhub.wasm import ImageLayout, pack
from wasmhub.wasm.tarball import build_tar, gzip_bytes

PROXY_MODULE = bytes(wasmtime.wat2wasm(
    """(module
      (memory (export "memory") 1)
      (func (export "proxy_abi_version_0_2_1"))
      (func (export "malloc") (param i32) (result i32) (i32.const 1024))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (i32.const 0)))"""
))
PLUGIN_LAYOUTS = [ImageLayout.COMPAT, ImageLayout.OCI, ImageLayout.CNCF, ImageLayout.DOCKER]


def push_plugin(registry: Registry, repo: str, layout: ImageLayout,
                module: bytes = PROXY_MODULE) -> httpx.Response:
    """Push a packed plugin image whose module bytes are ``module`` (valid or not)."""
    image = pack(PROXY_MODULE, layout)
    for blob in (image.config, *image.layers[:-1]):
        registry.push_blob(repo, blob.data)
    if module == PROXY_MODULE:
        last = image.layers[-1].data
    elif layout in (ImageLayout.COMPAT, ImageLayout.DOCKER):
        last = gzip_bytes(build_tar([("plugin.wasm", module)]))
    else:
        last = module
    doc = json.loads(image.manifest)
    doc["layers"][-1].update(digest=registry.push_blob(repo, last), size=len(last))
    return registry.put_manifest(repo, "1.0.0", json.dumps(doc).encode(),
                                 image.manifest_media_type)


@pytest.mark.parametrize("layout", PLUGIN_LAYOUTS)
def test_good_plugin_image_is_stored_and_catalogued(registry: Registry,
                                                    layout: ImageLayout) -> None:
    r = push_plugin(registry, "acme/hello", layout)
    assert r.status_code == 201, r.text
    head = registry.client.head("/v2/acme/hello/manifests/1.0.0")
    assert head.headers["Docker-Content-Digest"] == r.headers["Docker-Content-Digest"]
    summary = CatalogService(registry.hub).get_plugin("acme", "hello").summary
    assert (summary.abi_version, summary.latest_version) == ("0.2.1", "1.0.0")


@pytest.mark.parametrize("layout", PLUGIN_LAYOUTS)
@pytest.mark.parametrize("module", [b"this is not a wasm module", b"\0asm\x01\0\0\0\x01\xff"])
def test_plugin_image_with_broken_module_is_refused(registry: Registry, layout: ImageLayout,
                                                    module: bytes) -> None:
    r = push_plugin(registry, "broken/plugin", layout, module)
    assert r.status_code == 400, r.text
    assert error_code(r) == "MANIFEST_INVALID"
    assert "module" in r.json()["errors"][0]["message"].lower()
    assert registry.client.get("/v2/broken/plugin/manifests/1.0.0").status_code == 404
    tags = registry.client.get("/v2/broken/plugin/tags/list")
    assert tags.status_code == 404 or not tags.json().get("tags")
