"""pack / detect_layout / unpack for every layout, spec variants and corrupt images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.wasm.conftest import BuildWat
from wasmhub.errors import InputError
from wasmhub.wasm import (
    Blob,
    ImageLayout,
    LayoutError,
    MediaType,
    PackedImage,
    PluginFiles,
    PluginYamlError,
    WasmFormatError,
    detect_layout,
    pack,
    unpack,
)

PLUGIN_YAML = (Path(__file__).parent / "fixtures" / "plugin.yaml").read_bytes()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
FILES = PluginFiles(
    plugin_yaml=PLUGIN_YAML,
    readme={"en": b"# Add header\n", "zh": "# 添加请求头\n".encode()},
    icon=Blob("image/png", PNG),
)


def _store(image: PackedImage) -> dict[str, bytes]:
    return {blob.digest: blob.data for blob in image.blobs()}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def module(build_wat: BuildWat) -> bytes:
    return build_wat("abi_0_2_1_http")


@pytest.mark.parametrize("layout", list(ImageLayout))
def test_round_trip_is_byte_identical(module: bytes, layout: ImageLayout) -> None:
    image = pack(module, layout)
    doc = json.loads(image.manifest)
    assert image.layout is layout
    assert doc["mediaType"] == image.manifest_media_type
    assert doc["config"]["digest"] == image.config.digest
    assert [layer["digest"] for layer in doc["layers"]] == [b.digest for b in image.layers]
    assert detect_layout(doc) is layout
    plugin = unpack(image.manifest, _store(image).__getitem__)
    assert plugin.module == module
    assert plugin.layout is layout
    assert plugin.abi_versions == ("v0.2.1",)


@pytest.mark.parametrize("layout", list(ImageLayout))
def test_packing_is_deterministic(module: bytes, layout: ImageLayout) -> None:
    first, second = pack(module, layout), pack(bytes(module), layout)
    assert first.manifest == second.manifest
    assert first.digest == second.digest
    assert [b.data for b in first.layers] == [b.data for b in second.layers]


def test_compat_is_the_default_and_carries_metadata_before_the_plugin(module: bytes) -> None:
    image = pack(module, metadata=FILES)
    assert image.layout is ImageLayout.COMPAT
    doc = json.loads(image.manifest)
    types = [layer["mediaType"] for layer in doc["layers"]]
    assert types == [
        MediaType.HUB_PLUGIN_YAML,
        MediaType.HUB_README_EN,
        MediaType.HUB_README_ZH,
        MediaType.HUB_ICON_PNG,
        MediaType.OCI_LAYER_TAR_GZIP,
    ]
    titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in doc["layers"]]
    assert titles == ["plugin.yaml", "README.md", "README.zh.md", "icon.png", "plugin.tar.gz"]
    notes = doc["annotations"]
    assert notes["module.wasm.image/variant"] == "compat"
    assert notes["module.wasm.runtime/abi_version"] == "v0.2.1"
    assert notes["module.wasm.runtime/type"] == "envoy_proxy"
    assert notes["org.opencontainers.image.title"] == "add-header"
    assert notes["org.opencontainers.image.version"] == "1.2.0"
    assert notes["dev.wasmhub.plugin.root-ids"] == "add_header"
    plugin = unpack(image.manifest, _store(image).__getitem__)
    assert plugin.files == FILES
    assert plugin.root_ids == ("add_header",)
    assert plugin.runtime_config == {
        "type": "envoy_proxy",
        "abiVersions": ["v0.2.1"],
        "config": {"rootIds": ["add_header"]},
    }


def test_compat_last_layer_is_what_istio_reads(module: bytes) -> None:
    image = pack(module, metadata=FILES)
    last = image.layers[-1]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(last.data))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"plugin.wasm", "runtime-config.json"}
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members.values())
        extracted = tar.extractfile("plugin.wasm")
        assert extracted is not None and extracted.read() == module
    config = json.loads(image.config.data)
    tar_bytes = gzip.decompress(last.data)
    assert config["rootfs"]["diff_ids"] == [_sha(tar_bytes)]
    assert last.data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0


def test_solo_oci_layout_follows_wasme(module: bytes) -> None:
    image = pack(module, ImageLayout.OCI, root_ids=("my_root",))
    doc = json.loads(image.manifest)
    assert doc["config"]["mediaType"] == MediaType.SOLO_CONFIG
    assert len(doc["layers"]) == 2  # Istio reads the oci variant only with exactly 2 layers
    assert doc["layers"][0]["digest"] == doc["config"]["digest"]
    assert doc["layers"][1]["mediaType"] == MediaType.SOLO_CONTENT
    assert image.layers[1].data == module  # stored uncompressed
    assert json.loads(image.config.data) == {
        "type": "envoy_proxy",
        "abiVersions": ["v0.2.1"],
        "config": {"rootIds": ["my_root"]},
    }
    assert doc["annotations"]["module.wasm.runtime/abi_version"] == "v0.2.1"
    assert unpack(image.manifest, _store(image).__getitem__).root_ids == ("my_root",)


def test_cncf_layout(module: bytes) -> None:
    image = pack(module, ImageLayout.CNCF)
    doc = json.loads(image.manifest)
    assert doc["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert [layer["mediaType"] for layer in doc["layers"]] == ["application/wasm"]
    config = json.loads(image.config.data)
    assert config["layerDigests"] == [_sha(module)]
    assert (config["architecture"], config["os"]) == ("wasm", "wasip1")


def test_docker_layout(module: bytes) -> None:
    image = pack(module, ImageLayout.DOCKER)
    doc = json.loads(image.manifest)
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert doc["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert [layer["mediaType"] for layer in doc["layers"]] == [
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    ]


@pytest.mark.parametrize("layout", [ImageLayout.OCI, ImageLayout.CNCF, ImageLayout.DOCKER])
def test_only_compat_carries_metadata(module: bytes, layout: ImageLayout) -> None:
    with pytest.raises(LayoutError, match="use compat"):
        pack(module, layout, metadata=FILES)


def test_pack_validates_its_inputs(module: bytes, build_wat: BuildWat) -> None:
    with pytest.raises(WasmFormatError):
        pack(b"\x00asm\x01\x00\x00\x00\x01\x05")
    with pytest.raises(LayoutError, match="proxy-wasm plugins"):
        pack(build_wat("plain_module"))
    assert pack(build_wat("plain_module"), ImageLayout.CNCF).layout is ImageLayout.CNCF
    with pytest.raises(PluginYamlError):
        pack(module, metadata=PluginFiles(plugin_yaml=b"kind: Plugin\n"))
    with pytest.raises(LayoutError, match="icon must be"):
        pack(module, metadata=PluginFiles(icon=Blob("image/gif", b"GIF89a")))
    with pytest.raises(LayoutError, match="README languages"):
        pack(module, metadata=PluginFiles(readme={"fr": b"# bonjour"}))


# ----------------------------------------------------------------- hand-built variants


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _image(
    manifest_type: str,
    config: tuple[str, bytes],
    layers: list[tuple[str, bytes]],
    annotations: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    store = {_sha(config[1]): config[1]}
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config[0], "digest": _sha(config[1]), "size": len(config[1])},
        "layers": [],
    }
    for media_type, data in layers:
        store[_sha(data)] = data
        doc["layers"].append({"mediaType": media_type, "digest": _sha(data), "size": len(data)})
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc).encode(), store


@pytest.mark.parametrize(
    ("runtime_config", "abi", "roots"),
    [
        (
            {"type": "envoy_proxy", "abiVersions": ["v0-541b2c"], "config": {"rootIds": ["a"]}},
            ("v0-541b2c",),
            ("a",),
        ),
        (
            {"type": "envoy_proxy", "abi_versions": ["v0.2.1"], "config": {"root_ids": ["b"]}},
            ("v0.2.1",),
            ("b",),
        ),
        (
            {"type": "envoy_proxy", "abi_version": "v0-097b7f", "root_ids": ["c", "d"]},
            ("v0-097b7f",),
            ("c", "d"),
        ),
    ],
)
def test_solo_runtime_config_spellings(
    module: bytes, runtime_config: dict[str, Any], abi: tuple[str, ...], roots: tuple[str, ...]
) -> None:
    config = json.dumps(runtime_config).encode()
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.SOLO_CONFIG_STRAY, config),
        [(MediaType.SOLO_CONFIG, config), (MediaType.SOLO_CONTENT, module)],
    )
    plugin = unpack(manifest, store.__getitem__)
    assert plugin.layout is ImageLayout.OCI
    assert (plugin.abi_versions, plugin.root_ids) == (abi, roots)


def test_compat_with_other_wasm_name_and_docker_layer_type(module: bytes) -> None:
    layer = _tar_gz({"./filter.wasm": module, "./README": b"hi"})
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.OCI_CONFIG, b"{}"),
        [(MediaType.DOCKER_LAYER_TAR_GZIP, layer)],
        {"module.wasm.image/variant": "compat"},
    )
    assert detect_layout(json.loads(manifest)) is ImageLayout.COMPAT
    assert unpack(manifest, store.__getitem__).module == module


def test_docker_image_built_from_scratch_without_marks(module: bytes) -> None:
    layer = _tar_gz({"plugin.wasm": module})
    manifest, store = _image(
        MediaType.DOCKER_MANIFEST,
        (MediaType.DOCKER_CONFIG, b"{}"),
        [(MediaType.DOCKER_LAYER_TAR_GZIP, layer)],
    )
    assert detect_layout(json.loads(manifest)) is None  # a container image looks the same
    plugin = unpack(manifest, store.__getitem__)  # but unpack finds plugin.wasm, like Istio
    assert plugin.layout is ImageLayout.DOCKER
    assert plugin.module == module


def test_higress_image_layers(module: bytes) -> None:
    layers = [
        (MediaType.HIGRESS_SPEC_YAML, b"apiVersion: 1.0.0\n"),
        (MediaType.HIGRESS_README, b"# readme\n"),
        (MediaType.HIGRESS_README_ZH, "# 说明\n".encode()),
        (MediaType.HIGRESS_ICON_PNG, PNG),
        (MediaType.OCI_LAYER_TAR_GZIP, _tar_gz({"plugin.wasm": module})),
    ]
    manifest, store = _image(
        MediaType.OCI_MANIFEST, ("application/vnd.unknown.config.v1+json", b"{}"), layers
    )
    assert detect_layout(json.loads(manifest)) is ImageLayout.COMPAT
    plugin = unpack(manifest, store.__getitem__)
    assert plugin.files.readme == {"en": b"# readme\n", "zh": "# 说明\n".encode()}
    assert plugin.files.icon == Blob("image/png", PNG)
    assert plugin.files.plugin_yaml is None


def test_wasm_to_oci_artifact_is_read(module: bytes) -> None:
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.WASM_TO_OCI_CONFIG, b"{}"),
        [(MediaType.WASM_TO_OCI_LAYER, module)],
    )
    assert unpack(manifest, store.__getitem__).layout is ImageLayout.CNCF


def test_container_images_are_not_plugins() -> None:
    container = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST,
        "config": {"mediaType": MediaType.OCI_CONFIG, "digest": _sha(b"{}"), "size": 2},
        "layers": [{"mediaType": MediaType.OCI_LAYER_TAR_GZIP, "digest": _sha(b"x"), "size": 1}],
    }
    assert detect_layout(container) is None
    assert detect_layout({"schemaVersion": 2, "manifests": []}) is None
    assert detect_layout({"layers": "nonsense"}) is None


# ------------------------------------------------------------------------ failures


def _unpack_error(manifest: bytes, store: dict[str, bytes]) -> LayoutError:
    with pytest.raises(LayoutError) as info:
        unpack(manifest, store.__getitem__)
    assert isinstance(info.value, InputError)
    return info.value


def test_tar_without_wasm_is_not_a_plugin() -> None:
    layer = _tar_gz({"etc/passwd": b"root:x:0:0"})
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.OCI_CONFIG, b"{}"),
        [(MediaType.OCI_LAYER_TAR_GZIP, layer)],
    )
    assert "0 .wasm files" in _unpack_error(manifest, store).message


def test_corrupt_gzip_layer(module: bytes) -> None:
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.OCI_CONFIG, b"{}"),
        [(MediaType.OCI_LAYER_TAR_GZIP, b"\x1f\x8b\x08garbage")],
        {"module.wasm.image/variant": "compat"},
    )
    assert "not valid gzip" in _unpack_error(manifest, store).message


def test_blob_not_matching_its_digest(module: bytes) -> None:
    image = pack(module, ImageLayout.CNCF)
    store = _store(image)
    store[image.layers[0].digest] = module + b"\x00"
    assert "does not match the digest" in _unpack_error(image.manifest, store).message


def test_layer_that_is_not_wasm() -> None:
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.CNCF_CONFIG, b"{}"),
        [(MediaType.CNCF_LAYER, b"#!/bin/sh\necho hi\n")],
    )
    assert "does not hold a Wasm module" in _unpack_error(manifest, store).message


def test_two_cncf_layers_rejected(module: bytes) -> None:
    manifest, store = _image(
        MediaType.OCI_MANIFEST,
        (MediaType.CNCF_CONFIG, b"{}"),
        [(MediaType.CNCF_LAYER, module), (MediaType.CNCF_LAYER, module)],
    )
    assert "exactly one application/wasm layer" in _unpack_error(manifest, store).message


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (json.dumps({"mediaType": MediaType.OCI_INDEX, "manifests": []}).encode(), "image index"),
        (json.dumps({"schemaVersion": 2, "layers": []}).encode(), "not a Wasm plugin image"),
    ],
)
def test_manifests_that_are_not_plugins(manifest: bytes, expected: str) -> None:
    assert expected in _unpack_error(manifest, {}).message
