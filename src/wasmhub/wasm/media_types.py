"""Media-type groups and annotation keys of the Wasm image layouts (plugin-ecosystem.md B1-B4).

The media type strings themselves are ``wasmhub.oci.media_types.MediaType``; this module
groups them the way ``layouts`` reads them. The hub's own metadata layer types
(``application/vnd.wasmhub.*``) are documented in docs/plugin-yaml.md.
"""

from __future__ import annotations

from enum import StrEnum

from wasmhub.oci.media_types import MediaType

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
