"""Media types the registry understands, OCI and Docker, plus the Wasm artifact ones."""

from __future__ import annotations

from enum import StrEnum


class MediaType(StrEnum):
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_EMPTY = "application/vnd.oci.empty.v1+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    # Wasm plugin artifacts: the CNCF Wasm OCI artifact layout and Istio/Solo "compat".
    WASM_CONFIG = "application/vnd.wasm.config.v0+json"
    WASM_CONTENT = "application/vnd.wasm.content.layer.v1+wasm"
    WASM_MODULE = "application/wasm"
    SOLO_WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
    SOLO_WASM_CONTENT = "application/vnd.module.wasm.content.layer.v1+wasm"


#: Manifest media types a client may PUT; everything else is MANIFEST_INVALID.
MANIFEST_MEDIA_TYPES: frozenset[str] = frozenset(
    {
        MediaType.OCI_MANIFEST,
        MediaType.OCI_INDEX,
        MediaType.DOCKER_MANIFEST,
        MediaType.DOCKER_MANIFEST_LIST,
    }
)

INDEX_MEDIA_TYPES: frozenset[str] = frozenset(
    {MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST}
)


def base_media_type(content_type: str) -> str:
    """``Content-Type`` without parameters, lowercased (``a/b; charset=x`` -> ``a/b``)."""
    return content_type.split(";", 1)[0].strip().lower()
