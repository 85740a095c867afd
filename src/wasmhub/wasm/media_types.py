"""Media types and annotation keys of the Wasm image layouts (plugin-ecosystem.md B1-B4).

Owns the names only; ``layouts`` decides how they combine. The hub's own metadata layer
types (``application/vnd.wasmhub.*``) are documented in docs/plugin-yaml.md.
"""

from __future__ import annotations

from enum import StrEnum


class MediaType(StrEnum):
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    # Solo "oci" variant (solo-io/wasm spec/spec.md, B1)
    SOLO_CONFIG = "application/vnd.module.wasm.config.v1+json"
    SOLO_CONFIG_STRAY = "application/vnd.io.wasm.module.config.v1+json"  # wasm-image-spec#1
    SOLO_CONTENT = "application/vnd.module.wasm.content.layer.v1+wasm"
    # CNCF TAG-Runtime Wasm OCI artifact (B4) and the older wasm-to-oci format
    CNCF_CONFIG = "application/vnd.wasm.config.v0+json"
    CNCF_LAYER = "application/wasm"
    WASM_TO_OCI_CONFIG = "application/vnd.wasm.config.v1+json"
    WASM_TO_OCI_LAYER = "application/vnd.wasm.content.layer.v1+wasm"
    # Hub metadata layers (this project)
    HUB_PLUGIN_YAML = "application/vnd.wasmhub.plugin.v1+yaml"
    HUB_README_EN = "application/vnd.wasmhub.readme.v1.en+markdown"
    HUB_README_ZH = "application/vnd.wasmhub.readme.v1.zh+markdown"
    HUB_ICON_PNG = "application/vnd.wasmhub.icon.v1+png"
    HUB_ICON_SVG = "application/vnd.wasmhub.icon.v1+svg"
    # Higress hgctl metadata layers (alibaba/higress hgctl/pkg/plugin/build/build.go, B3)
    HIGRESS_SPEC_YAML = "application/vnd.module.wasm.spec.v1+yaml"
    HIGRESS_README = "application/vnd.module.wasm.doc.v1+markdown"
    HIGRESS_README_EN = "application/vnd.module.wasm.doc.v1.en+markdown"
    HIGRESS_README_ZH = "application/vnd.module.wasm.doc.v1.zh+markdown"
    HIGRESS_ICON_PNG = "application/vnd.module.wasm.icon.v1+png"


TAR_LAYERS = frozenset({MediaType.OCI_LAYER_TAR_GZIP, MediaType.DOCKER_LAYER_TAR_GZIP})
SOLO_CONFIGS = frozenset({MediaType.SOLO_CONFIG, MediaType.SOLO_CONFIG_STRAY})
HUB_METADATA_LAYERS = frozenset(
    {
        MediaType.HUB_PLUGIN_YAML,
        MediaType.HUB_README_EN,
        MediaType.HUB_README_ZH,
        MediaType.HUB_ICON_PNG,
        MediaType.HUB_ICON_SVG,
    }
)
HIGRESS_METADATA_LAYERS = frozenset(
    {
        MediaType.HIGRESS_SPEC_YAML,
        MediaType.HIGRESS_README,
        MediaType.HIGRESS_README_EN,
        MediaType.HIGRESS_README_ZH,
        MediaType.HIGRESS_ICON_PNG,
    }
)
# Icon layer media type <-> the icon's own content type.
ICON_LAYER_TO_CONTENT = {
    MediaType.HUB_ICON_PNG: "image/png",
    MediaType.HUB_ICON_SVG: "image/svg+xml",
    MediaType.HIGRESS_ICON_PNG: "image/png",
}
ICON_CONTENT_TO_LAYER = {
    "image/png": MediaType.HUB_ICON_PNG,
    "image/svg+xml": MediaType.HUB_ICON_SVG,
}


class Annotation(StrEnum):
    TITLE = "org.opencontainers.image.title"
    DESCRIPTION = "org.opencontainers.image.description"
    VERSION = "org.opencontainers.image.version"
    LICENSES = "org.opencontainers.image.licenses"
    SOURCE = "org.opencontainers.image.source"
    URL = "org.opencontainers.image.url"
    AUTHORS = "org.opencontainers.image.authors"
    VARIANT = "module.wasm.image/variant"  # "compat" (spec-compat.md, B2)
    ABI_VERSION = "module.wasm.runtime/abi_version"  # comma-joined abiVersions (B1)
    RUNTIME_TYPE = "module.wasm.runtime/type"  # "envoy_proxy" (B1)
    HUB_ROOT_IDS = "dev.wasmhub.plugin.root-ids"  # comma-joined root ids
    HUB_FILTER_TYPES = "dev.wasmhub.plugin.filter-types"  # comma-joined http/network
