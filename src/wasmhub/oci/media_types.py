"""Every media type string wasmhub uses: OCI, Docker schema 2 and the Wasm artifact families.

This is the one set of constants; ``wasmhub.client`` and ``wasmhub.wasm`` import from here
(``wasmhub.wasm.MediaType`` is this same enum). How the Wasm types combine into image
layouts is ``wasmhub.wasm.layouts``' business (plugin-ecosystem.md B1-B4); the hub's own
metadata layer types are documented in docs/plugin-yaml.md.
"""

from __future__ import annotations

from enum import StrEnum


class MediaType(StrEnum):
    # OCI image spec v1.1
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_EMPTY = "application/vnd.oci.empty.v1+json"
    # Docker image manifest v2, schema 2
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
    # Higress hgctl metadata layers (alibaba/higress hgctl/pkg/plugin/build/build.go, B3)
    HIGRESS_SPEC_YAML = "application/vnd.module.wasm.spec.v1+yaml"
    HIGRESS_README = "application/vnd.module.wasm.doc.v1+markdown"
    HIGRESS_README_EN = "application/vnd.module.wasm.doc.v1.en+markdown"
    HIGRESS_README_ZH = "application/vnd.module.wasm.doc.v1.zh+markdown"
    HIGRESS_ICON_PNG = "application/vnd.module.wasm.icon.v1+png"
    # Hub metadata layers (this project, docs/plugin-yaml.md)
    HUB_PLUGIN_YAML = "application/vnd.wasmhub.plugin.v1+yaml"
    HUB_README_EN = "application/vnd.wasmhub.readme.v1.en+markdown"
    HUB_README_ZH = "application/vnd.wasmhub.readme.v1.zh+markdown"
    HUB_ICON_PNG = "application/vnd.wasmhub.icon.v1+png"
    HUB_ICON_SVG = "application/vnd.wasmhub.icon.v1+svg"


#: The manifest media types in a client's order of preference (an ``Accept`` header).
MANIFEST_ACCEPT: tuple[str, ...] = (
    MediaType.OCI_MANIFEST,
    MediaType.OCI_INDEX,
    MediaType.DOCKER_MANIFEST,
    MediaType.DOCKER_MANIFEST_LIST,
)

#: Manifest media types a client may PUT; everything else is MANIFEST_INVALID.
MANIFEST_MEDIA_TYPES: frozenset[str] = frozenset(MANIFEST_ACCEPT)

INDEX_MEDIA_TYPES: frozenset[str] = frozenset(
    {MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST}
)


def base_media_type(content_type: str) -> str:
    """``Content-Type`` without parameters, lowercased (``a/b; charset=x`` -> ``a/b``)."""
    return content_type.split(";", 1)[0].strip().lower()
