"""Wasm plugin image layouts: ``pack``, ``detect_layout`` and ``unpack``.

Four layouts (plugin-ecosystem.md B1-B4):

- ``compat`` (default): OCI image manifest whose **last** layer is a tar+gzip holding
  ``plugin.wasm`` (+ ``runtime-config.json``); hub metadata layers come before it, so
  Istio, Envoy Gateway and Higress, which take the last layer, still load the image.
- ``oci``: Solo's variant; config and one layer are the same ``runtime-config.json``
  blob, the other layer is the raw module; exactly two layers (Istio's rule).
- ``cncf``: CNCF TAG-Runtime artifact, ``application/vnd.wasm.config.v0+json`` config and
  a single ``application/wasm`` layer.
- ``docker``: Docker schema 2 image with a single ``rootfs.diff.tar.gzip`` layer.

Output is deterministic: canonical JSON, fixed tar metadata, gzip mtime 0.

Unpacking is bounded: the module may be at most ``max_module_bytes`` (the hub's
setting of that name; :data:`DEFAULT_MAX_MODULE_BYTES` here), a tar+gzip layer is
decompressed as a stream that stops past that size, and every layer's declared size
is checked against its limit before it is read (plugin.yaml
:data:`~wasmhub.wasm.plugin_yaml.MAX_PLUGIN_YAML_BYTES`, README :data:`MAX_README_BYTES`;
an icon over :data:`MAX_ICON_BYTES` is left out).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wasmhub.oci.media_types import MediaType
from wasmhub.wasm.errors import LayoutError
from wasmhub.wasm.media_types import (
    HIGRESS_METADATA_LAYERS,
    HUB_METADATA_LAYERS,
    ICON_CONTENT_TO_LAYER,
    ICON_LAYER_TO_CONTENT,
    SOLO_CONFIGS,
    TAR_LAYERS,
    Annotation,
)
from wasmhub.wasm.plugin_yaml import MAX_PLUGIN_YAML_BYTES
from wasmhub.wasm.report import ModuleReport, inspect_module
from wasmhub.wasm.tarball import TAR_OVERHEAD_BYTES, build_tar, gzip_bytes, read_tar_gz_files

WASM_MAGIC = b"\x00asm"
RUNTIME_TYPE = "envoy_proxy"
CNCF_CREATED = "1970-01-01T00:00:00Z"  # fixed so that packing is reproducible
# Real proxy-wasm modules are at most a few MB (the largest in the corpus is ~4 MB).
DEFAULT_MAX_MODULE_BYTES = 32 * 1024 * 1024
MAX_README_BYTES = 1024 * 1024
MAX_ICON_BYTES = 512 * 1024
MAX_RUNTIME_CONFIG_BYTES = 64 * 1024


class ImageLayout(StrEnum):
    COMPAT = "compat"
    OCI = "oci"
    CNCF = "cncf"
    DOCKER = "docker"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if annotations:
            desc["annotations"] = dict(annotations)
        return desc


@dataclass(frozen=True)
class PluginFiles:
    """Hub metadata that travels with a module (only the compat layout carries it)."""

    plugin_yaml: bytes | None = None
    readme: Mapping[str, bytes] = field(default_factory=dict)  # "en", "zh"
    icon: Blob | None = None  # media_type image/png or image/svg+xml

    def is_empty(self) -> bool:
        return self.plugin_yaml is None and not self.readme and self.icon is None


@dataclass(frozen=True)
class PackedImage:
    layout: ImageLayout
    manifest: bytes
    manifest_media_type: str
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def blobs(self) -> tuple[Blob, ...]:
        """Config and layers, each once, in push order."""
        seen: dict[str, Blob] = {}
        for blob in (self.config, *self.layers):
            seen.setdefault(blob.digest, blob)
        return tuple(seen.values())


@dataclass(frozen=True)
class UnpackedPlugin:
    module: bytes
    layout: ImageLayout
    files: PluginFiles
    runtime_config: dict[str, Any] | None
    abi_versions: tuple[str, ...] = ()  # as declared by the image, e.g. ("v0.2.1",)
    root_ids: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- pack


def pack(
    module: bytes,
    layout: ImageLayout = ImageLayout.COMPAT,
    *,
    metadata: PluginFiles | None = None,
    root_ids: tuple[str, ...] = (),
) -> PackedImage:
    """Build the image for ``module``; raises WasmFormatError, PluginYamlError, LayoutError."""
    layout = ImageLayout(layout)
    report = inspect_module(module)
    files = metadata or PluginFiles()
    if layout is not ImageLayout.CNCF and not report.is_proxy_wasm:
        raise LayoutError(
            f"the {layout} layout is for proxy-wasm plugins and this module "
            "exports no proxy_abi_version_* marker or proxy_on_* callback"
        )
    if layout is not ImageLayout.COMPAT and not files.is_empty():
        raise LayoutError(
            f"the {layout} layout cannot carry plugin.yaml, README or icon "
            "layers (hosts require its exact layer count); use compat"
        )
    annotations, ids = _annotations(report, files, root_ids)
    runtime_config = _runtime_config(report, ids)
    if layout is ImageLayout.COMPAT:
        return _pack_compat(module, files, runtime_config, annotations)
    if layout is ImageLayout.OCI:
        return _pack_solo(module, runtime_config, annotations)
    if layout is ImageLayout.CNCF:
        return _pack_cncf(module, annotations)
    return _pack_docker(module, runtime_config, annotations)


def _annotations(
    report: ModuleReport, files: PluginFiles, root_ids: tuple[str, ...]
) -> tuple[dict[str, str], tuple[str, ...]]:
    notes: dict[str, str] = {}
    ids = list(root_ids)
    if files.plugin_yaml is not None:
        from wasmhub.wasm.plugin_yaml import load_plugin_yaml

        meta = load_plugin_yaml(files.plugin_yaml)
        notes.update(meta.oci_annotations())
        if meta.spec.root_id and meta.spec.root_id not in ids:
            ids.append(meta.spec.root_id)
    if report.is_proxy_wasm:
        notes[Annotation.RUNTIME_TYPE] = RUNTIME_TYPE
        notes[Annotation.ABI_VERSION] = ",".join(_abi_versions(report))
        if report.filter_types:
            notes[Annotation.HUB_FILTER_TYPES] = ",".join(sorted(report.filter_types))
    if ids:
        notes[Annotation.HUB_ROOT_IDS] = ",".join(ids)
    return notes, tuple(ids)


def _abi_versions(report: ModuleReport) -> list[str]:
    # wasme wrote "v0.2.1" for marker-based ABIs (its Gloo 1.6 entry, B7).
    return [f"v{report.abi_version}"] if report.abi_version else []


def _runtime_config(report: ModuleReport, root_ids: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": RUNTIME_TYPE,
        "abiVersions": _abi_versions(report),
        "config": {"rootIds": list(root_ids)},
    }


def _manifest(
    media_type: str,
    config: Blob,
    layers: list[dict[str, Any]],
    annotations: Mapping[str, str],
    *,
    artifact_type: str | None = None,
) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": layers,
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = dict(annotations)
    return canonical_json(doc)


def _image_config(tar: bytes) -> dict[str, Any]:
    return {
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    }


def _plugin_tar(module: bytes, runtime_config: dict[str, Any]) -> bytes:
    return build_tar(
        [("plugin.wasm", module), ("runtime-config.json", canonical_json(runtime_config))]
    )


def _metadata_layers(files: PluginFiles) -> list[tuple[Blob, str]]:
    layers: list[tuple[Blob, str]] = []
    if files.plugin_yaml is not None:
        layers.append((Blob(MediaType.HUB_PLUGIN_YAML, files.plugin_yaml), "plugin.yaml"))
    for lang, media_type, title in (
        ("en", MediaType.HUB_README_EN, "README.md"),
        ("zh", MediaType.HUB_README_ZH, "README.zh.md"),
    ):
        if lang in files.readme:
            layers.append((Blob(media_type, files.readme[lang]), title))
    unknown = set(files.readme) - {"en", "zh"}
    if unknown:
        raise LayoutError(f"README languages must be 'en' or 'zh', got {sorted(unknown)}")
    if files.icon is not None:
        layer_type = ICON_CONTENT_TO_LAYER.get(files.icon.media_type)
        if layer_type is None:
            raise LayoutError(
                f"icon must be image/png or image/svg+xml, got {files.icon.media_type}"
            )
        suffix = "png" if layer_type == MediaType.HUB_ICON_PNG else "svg"
        layers.append((Blob(layer_type, files.icon.data), f"icon.{suffix}"))
    return layers


def _pack_compat(
    module: bytes, files: PluginFiles, runtime_config: dict[str, Any], annotations: dict[str, str]
) -> PackedImage:
    tar = _plugin_tar(module, runtime_config)
    plugin_layer = Blob(MediaType.OCI_LAYER_TAR_GZIP, gzip_bytes(tar))
    config = Blob(MediaType.OCI_CONFIG, canonical_json(_image_config(tar)))
    meta = _metadata_layers(files)
    descriptors = [blob.descriptor({Annotation.TITLE: title}) for blob, title in meta]
    descriptors.append(plugin_layer.descriptor({Annotation.TITLE: "plugin.tar.gz"}))
    notes = {**annotations, Annotation.VARIANT: "compat"}
    manifest = _manifest(MediaType.OCI_MANIFEST, config, descriptors, notes)
    layers = (*(blob for blob, _ in meta), plugin_layer)
    return PackedImage(ImageLayout.COMPAT, manifest, MediaType.OCI_MANIFEST, config, layers)


def _pack_solo(
    module: bytes, runtime_config: dict[str, Any], annotations: dict[str, str]
) -> PackedImage:
    config = Blob(MediaType.SOLO_CONFIG, canonical_json(runtime_config))
    content = Blob(MediaType.SOLO_CONTENT, module)
    descriptors = [
        config.descriptor({Annotation.TITLE: "runtime-config.json"}),
        content.descriptor({Annotation.TITLE: "filter.wasm"}),
    ]
    manifest = _manifest(MediaType.OCI_MANIFEST, config, descriptors, annotations)
    return PackedImage(ImageLayout.OCI, manifest, MediaType.OCI_MANIFEST, config, (config, content))


def _pack_cncf(module: bytes, annotations: dict[str, str]) -> PackedImage:
    layer = Blob(MediaType.CNCF_LAYER, module)
    config_doc = {
        "created": CNCF_CREATED,
        "architecture": "wasm",
        "os": "wasip1",
        "layerDigests": [layer.digest],
    }
    config = Blob(MediaType.CNCF_CONFIG, canonical_json(config_doc))
    descriptors = [layer.descriptor({Annotation.TITLE: "plugin.wasm"})]
    manifest = _manifest(MediaType.OCI_MANIFEST, config, descriptors, annotations)
    return PackedImage(ImageLayout.CNCF, manifest, MediaType.OCI_MANIFEST, config, (layer,))


def _pack_docker(
    module: bytes, runtime_config: dict[str, Any], annotations: dict[str, str]
) -> PackedImage:
    tar = _plugin_tar(module, runtime_config)
    layer = Blob(MediaType.DOCKER_LAYER_TAR_GZIP, gzip_bytes(tar))
    config = Blob(MediaType.DOCKER_CONFIG, canonical_json(_image_config(tar)))
    notes = {**annotations, Annotation.VARIANT: "compat"}
    manifest = _manifest(MediaType.DOCKER_MANIFEST, config, [layer.descriptor()], notes)
    return PackedImage(ImageLayout.DOCKER, manifest, MediaType.DOCKER_MANIFEST, config, (layer,))


# ------------------------------------------------------------------------- detect


def _layer_types(manifest: Mapping[str, Any]) -> list[str]:
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        return []
    return [str(layer.get("mediaType", "")) for layer in layers if isinstance(layer, dict)]


def _config_type(manifest: Mapping[str, Any]) -> str:
    config = manifest.get("config")
    return str(config.get("mediaType", "")) if isinstance(config, dict) else ""


def _has_plugin_signal(manifest: Mapping[str, Any], layer_types: list[str]) -> bool:
    """Wasm-specific marks on a tar-based image (a plain container image has none)."""
    notes = manifest.get("annotations")
    if isinstance(notes, dict) and (
        notes.get(Annotation.VARIANT) == "compat" or Annotation.ABI_VERSION in notes
    ):
        return True
    if any(t in HUB_METADATA_LAYERS or t in HIGRESS_METADATA_LAYERS for t in layer_types):
        return True
    last = manifest["layers"][-1]
    title = ""
    if isinstance(last, dict) and isinstance(last.get("annotations"), dict):
        title = str(last["annotations"].get(Annotation.TITLE, ""))
    return title.endswith(".wasm") or title == "plugin.tar.gz"


def detect_layout(manifest: Mapping[str, Any]) -> ImageLayout | None:
    """Which plugin layout ``manifest`` (parsed JSON) uses; None if not a Wasm plugin image."""
    layer_types = _layer_types(manifest)
    if not layer_types:
        return None
    config_type = _config_type(manifest)
    if config_type == MediaType.CNCF_CONFIG or MediaType.CNCF_LAYER in layer_types:
        return ImageLayout.CNCF
    if MediaType.WASM_TO_OCI_LAYER in layer_types:
        return ImageLayout.CNCF
    if MediaType.SOLO_CONTENT in layer_types:
        return ImageLayout.OCI
    if layer_types[-1] not in TAR_LAYERS or not _has_plugin_signal(manifest, layer_types):
        return None
    if manifest.get("mediaType") == MediaType.DOCKER_MANIFEST or (
        config_type == MediaType.DOCKER_CONFIG
    ):
        return ImageLayout.DOCKER
    return ImageLayout.COMPAT


# ------------------------------------------------------------------------- unpack

FetchBlob = Callable[[str], bytes]


def parse_manifest(manifest: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(manifest)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayoutError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise LayoutError("manifest is not a JSON object")
    return doc


def unpack(
    manifest: bytes, fetch_blob: FetchBlob, *, max_module_bytes: int = DEFAULT_MAX_MODULE_BYTES
) -> UnpackedPlugin:
    """Extract module, metadata and runtime config; raises LayoutError on anything else,
    including a module (or module layer) larger than ``max_module_bytes``."""
    doc = parse_manifest(manifest)
    if doc.get("mediaType") in (MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST) or (
        "manifests" in doc
    ):
        raise LayoutError("this is an image index; unpack one of its platform manifests")
    layout = detect_layout(doc)
    layer_types = _layer_types(doc)
    if layout is None and layer_types and layer_types[-1] in TAR_LAYERS:
        # No Wasm marks; still try, as Istio would, to find plugin.wasm in the last layer.
        docker = doc.get("mediaType") == MediaType.DOCKER_MANIFEST
        layout = ImageLayout.DOCKER if docker else ImageLayout.COMPAT
    if layout is None:
        raise LayoutError("not a Wasm plugin image: no Wasm layer and no tar+gzip last layer")
    fetch = _VerifyingFetcher(fetch_blob, max_module_bytes)
    raw_notes = doc.get("annotations")
    notes: dict[str, Any] = raw_notes if isinstance(raw_notes, dict) else {}
    if layout in (ImageLayout.COMPAT, ImageLayout.DOCKER):
        result = _unpack_tar_image(doc, layout, fetch)
    elif layout is ImageLayout.OCI:
        result = _unpack_solo(doc, fetch)
    else:
        result = _unpack_cncf(doc, fetch)
    module, files, runtime_config = result
    if not module.startswith(WASM_MAGIC) or len(module) < 8:
        raise LayoutError("the plugin layer does not hold a Wasm module (no \\0asm header)")
    if len(module) > max_module_bytes:
        raise LayoutError(
            f"the module is {len(module)} bytes; this hub accepts modules of at most "
            f"{max_module_bytes} bytes (max_module_bytes)"
        )
    abi_versions, root_ids = _runtime_facts(runtime_config, notes)
    return UnpackedPlugin(
        module,
        layout,
        files,
        runtime_config,
        abi_versions,
        root_ids,
        {str(k): str(v) for k, v in notes.items()},
    )


class _VerifyingFetcher:
    def __init__(self, fetch_blob: FetchBlob, max_module_bytes: int) -> None:
        self._fetch = fetch_blob
        self.max_module_bytes = max_module_bytes
        # A compressed module layer: the module plus tar headers (and gzip's few bytes).
        self.max_layer_bytes = max_module_bytes + TAR_OVERHEAD_BYTES

    def __call__(self, descriptor: Any, limit: int | None = None, what: str = "layer") -> bytes:
        """The descriptor's blob, verified; refused unread when it declares > ``limit``."""
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            raise LayoutError("manifest has a descriptor without a digest")
        digest: str = descriptor["digest"]
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256" or len(hexpart) != 64:
            raise LayoutError(f"unsupported or malformed digest {digest!r}")
        limit = self.max_layer_bytes if limit is None else limit
        size = descriptor.get("size")
        if isinstance(size, int) and size > limit:
            raise LayoutError(
                f"the {what} {digest} is {size} bytes; the limit is {limit} bytes"
            )
        data = self._fetch(digest)
        if hashlib.sha256(data).hexdigest() != hexpart:
            raise LayoutError(f"blob {digest} is corrupt: its content does not match the digest")
        if isinstance(size, int) and size != len(data):
            raise LayoutError(f"blob {digest} is {len(data)} bytes, the manifest says {size}")
        return data


def _layers(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [layer for layer in doc.get("layers", []) if isinstance(layer, dict)]


def _unpack_tar_image(
    doc: Mapping[str, Any], layout: ImageLayout, fetch: _VerifyingFetcher
) -> tuple[bytes, PluginFiles, dict[str, Any] | None]:
    layers = _layers(doc)
    last = layers[-1]
    digest = last.get("digest")
    entries = read_tar_gz_files(
        fetch(last), f"layer {digest}", fetch.max_module_bytes + TAR_OVERHEAD_BYTES
    )
    by_base = {name.rsplit("/", 1)[-1]: data for name, data in entries.items()}
    module = by_base.get("plugin.wasm")
    if module is None:
        wasm_files = [data for name, data in by_base.items() if name.endswith(".wasm")]
        if len(wasm_files) != 1:
            raise LayoutError(
                f"not a Wasm plugin image: the last layer holds "
                f"{len(wasm_files)} .wasm files and no plugin.wasm"
            )
        module = wasm_files[0]
    runtime_config = None
    if "runtime-config.json" in by_base:
        runtime_config = _json_object(by_base["runtime-config.json"], "runtime-config.json")
    files = _metadata_files(layers[:-1], fetch) if layout is ImageLayout.COMPAT else PluginFiles()
    return module, files, runtime_config


def _metadata_files(layers: list[dict[str, Any]], fetch: _VerifyingFetcher) -> PluginFiles:
    plugin_yaml: bytes | None = None
    readme: dict[str, bytes] = {}
    icon: Blob | None = None
    for layer in layers:
        media_type = layer.get("mediaType")
        if media_type == MediaType.HUB_PLUGIN_YAML:
            plugin_yaml = fetch(layer, MAX_PLUGIN_YAML_BYTES, "plugin.yaml layer")
        elif media_type in (MediaType.HUB_README_EN, MediaType.HIGRESS_README_EN):
            readme["en"] = fetch(layer, MAX_README_BYTES, "README layer")
        elif media_type in (MediaType.HUB_README_ZH, MediaType.HIGRESS_README_ZH):
            readme["zh"] = fetch(layer, MAX_README_BYTES, "README layer")
        elif media_type == MediaType.HIGRESS_README:
            readme.setdefault("en", fetch(layer, MAX_README_BYTES, "README layer"))
        elif media_type in ICON_LAYER_TO_CONTENT:
            size = layer.get("size")
            if isinstance(size, int) and size > MAX_ICON_BYTES:
                continue  # shown without an icon rather than refused (as before)
            icon = Blob(ICON_LAYER_TO_CONTENT[MediaType(media_type)], fetch(layer))
    return PluginFiles(plugin_yaml, readme, icon)


def _unpack_solo(
    doc: Mapping[str, Any], fetch: _VerifyingFetcher
) -> tuple[bytes, PluginFiles, dict[str, Any] | None]:
    content = [layer for layer in _layers(doc) if layer.get("mediaType") == MediaType.SOLO_CONTENT]
    if len(content) != 1:
        raise LayoutError(
            f"Solo oci image must have one {MediaType.SOLO_CONTENT} layer, found {len(content)}"
        )
    runtime_config = None
    config = doc.get("config")
    if isinstance(config, dict) and config.get("mediaType") in SOLO_CONFIGS:
        runtime_config = _json_object(
            fetch(config, MAX_RUNTIME_CONFIG_BYTES, "runtime config"), "runtime-config.json"
        )
    return fetch(content[0], fetch.max_module_bytes, "module layer"), PluginFiles(), runtime_config


def _unpack_cncf(
    doc: Mapping[str, Any], fetch: _VerifyingFetcher
) -> tuple[bytes, PluginFiles, dict[str, Any] | None]:
    wasm_types = (MediaType.CNCF_LAYER, MediaType.WASM_TO_OCI_LAYER)
    wasm_layers = [layer for layer in _layers(doc) if layer.get("mediaType") in wasm_types]
    if len(wasm_layers) != 1:
        raise LayoutError(
            f"a CNCF Wasm artifact must have exactly one application/wasm "
            f"layer, found {len(wasm_layers)}"
        )
    return fetch(wasm_layers[0], fetch.max_module_bytes, "module layer"), PluginFiles(), None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise LayoutError(f"{what} is not a JSON object")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float))
    return ()


def _runtime_facts(
    runtime_config: Mapping[str, Any] | None, notes: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ABI versions and root ids, tolerating every spelling seen in the wild (B1)."""
    abi: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    if runtime_config is not None:
        for key in ("abiVersions", "abi_versions", "abi_version", "abiVersion"):
            if key in runtime_config:
                abi = _string_list(runtime_config[key])
                break
        config = runtime_config.get("config")
        for source in (config if isinstance(config, dict) else {}, runtime_config):
            for key in ("rootIds", "root_ids", "rootId", "root_id"):
                if key in source:
                    roots = _string_list(source[key])
                    break
            if roots:
                break
    if not abi and Annotation.ABI_VERSION in notes:
        abi = _string_list(notes[Annotation.ABI_VERSION])
    if not roots and Annotation.HUB_ROOT_IDS in notes:
        roots = _string_list(notes[Annotation.HUB_ROOT_IDS])
    return abi, roots
