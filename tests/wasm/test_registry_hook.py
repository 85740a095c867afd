"""The ManifestPushed veto subscriber, through a real EventBus."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.wasm.conftest import BuildWat
from wasmhub.errors import InputError
from wasmhub.events import EventBus, ManifestDeleted, ManifestPushed
from wasmhub.wasm import ImageLayout, PackedImage, PluginFiles, pack
from wasmhub.wasm.registry_hook import analyse_manifest, make_plugin_validator

PLUGIN_YAML = (Path(__file__).parent / "fixtures" / "plugin.yaml").read_bytes()


class BlobShelf:
    """A tiny in-memory blob store keyed by (repository, digest)."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], bytes] = {}

    def put(self, repository: str, image: PackedImage) -> None:
        for blob in image.blobs():
            self.blobs[(repository, blob.digest)] = blob.data

    def fetch(self, repository: str, digest: str) -> bytes:
        return self.blobs[(repository, digest)]


def _push(image_manifest: bytes, media_type: str) -> ManifestPushed:
    return ManifestPushed(
        repository="acme/add-header",
        digest="sha256:" + "0" * 64,
        media_type=media_type,
        payload=image_manifest,
        tag="1.2.0",
    )


def _bus(shelf: BlobShelf) -> EventBus:
    bus = EventBus()
    bus.subscribe(make_plugin_validator(shelf.fetch), veto=True)
    return bus


def test_valid_plugin_passes_and_is_analysed(build_wat: BuildWat) -> None:
    shelf = BlobShelf()
    image = pack(build_wat("abi_0_2_1_http"), metadata=PluginFiles(plugin_yaml=PLUGIN_YAML))
    shelf.put("acme/add-header", image)
    _bus(shelf).check(_push(image.manifest, image.manifest_media_type))
    analysis = analyse_manifest(image.manifest, lambda d: shelf.fetch("acme/add-header", d))
    assert analysis is not None
    assert analysis.layout is ImageLayout.COMPAT
    assert analysis.report.abi_version == "0.2.1"
    assert analysis.metadata is not None and analysis.metadata.name == "add-header"
    assert any(v.platform == "istio" and v.loads for v in analysis.verdicts)


def test_non_plugin_content_passes_untouched() -> None:
    shelf = BlobShelf()  # empty: the hook must not even fetch blobs
    container = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "2" * 64,
                "size": 10,
            }
        ],
    }
    payload = json.dumps(container).encode()
    _bus(shelf).check(_push(payload, container["mediaType"]))
    assert analyse_manifest(payload, lambda d: shelf.fetch("x", d)) is None
    assert analyse_manifest(b"not json", lambda d: b"") is None
    _bus(shelf).check(ManifestDeleted(repository="x", digest="sha256:" + "3" * 64))


def test_corrupt_module_is_vetoed(build_wat: BuildWat) -> None:
    shelf = BlobShelf()
    good = pack(build_wat("abi_0_2_1_http"), ImageLayout.OCI)
    # Same manifest shape, but the content layer truncated: re-pack by hand.
    module = good.layers[1].data[:-5]
    doc = json.loads(good.manifest)
    doc["layers"][1]["digest"] = "sha256:" + hashlib.sha256(module).hexdigest()
    doc["layers"][1]["size"] = len(module)
    shelf.put("acme/add-header", good)
    shelf.blobs[("acme/add-header", doc["layers"][1]["digest"])] = module
    payload = json.dumps(doc).encode()
    with pytest.raises(InputError) as info:
        _bus(shelf).check(_push(payload, good.manifest_media_type))
    assert "invalid Wasm module" in info.value.message
    assert "in the oci image's module" in info.value.message


def test_non_wasm_layer_is_vetoed(build_wat: BuildWat) -> None:
    shelf = BlobShelf()
    image = pack(build_wat("abi_0_2_1_http"), ImageLayout.CNCF)
    shelf.put("acme/add-header", image)
    shelf.blobs[("acme/add-header", image.layers[0].digest)] = b"MZ not wasm"
    with pytest.raises(InputError, match="does not match the digest"):
        _bus(shelf).check(_push(image.manifest, image.manifest_media_type))


def test_invalid_plugin_yaml_is_vetoed(build_wat: BuildWat) -> None:
    shelf = BlobShelf()
    image = pack(build_wat("abi_0_2_1_http"), metadata=PluginFiles(plugin_yaml=PLUGIN_YAML))
    shelf.put("acme/add-header", image)
    bad_yaml = PLUGIN_YAML.replace(b"priority: 100", b"priority: 5000")
    doc = json.loads(image.manifest)
    doc["layers"][0]["digest"] = "sha256:" + hashlib.sha256(bad_yaml).hexdigest()
    doc["layers"][0]["size"] = len(bad_yaml)
    shelf.blobs[("acme/add-header", doc["layers"][0]["digest"])] = bad_yaml
    with pytest.raises(InputError) as info:
        _bus(shelf).check(_push(json.dumps(doc).encode(), image.manifest_media_type))
    assert info.value.message.startswith("spec.priority: must be between 1 and 1000")
