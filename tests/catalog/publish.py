"""Publishing real plugin images into a hub's registry (RegistryService + wasm.pack)."""

from __future__ import annotations

from tests.catalog.modules import proxy_module
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.wasm import Blob, ImageLayout, PackedImage, PluginFiles, pack

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def plugin_yaml(name: str, version: str, *, en: str, zh: str = "", description: str = "",
                category: str = "traffic", keywords: tuple[str, ...] = ()) -> bytes:
    lines = [
        "apiVersion: wasmhub.dev/v1",
        "kind: Plugin",
        "metadata:",
        f"  name: {name}",
        f"  version: {version}",
        "  displayName:",
        f"    en: {en}",
        *([f"    zh: {zh}"] if zh else []),
        "  description:",
        f"    en: {description or en}",
        f"  category: {category}",
        f"  keywords: [{', '.join(keywords)}]",
        "  license: Apache-2.0",
        "  source: https://github.com/example/" + name,
        "spec:",
        "  rootId: " + name.replace("-", "_"),
        "  phase: AUTHZ",
        "  priority: 50",
        "  configSchema:",
        "    type: object",
        "    properties:",
        "      header: {type: string}",
        "  exampleConfig: {header: x-demo}",
    ]
    return ("\n".join(lines) + "\n").encode()


def packed_plugin(name: str, version: str = "1.0.0", *, readme: str = "", icon: bool = False,
                  layout: ImageLayout = ImageLayout.COMPAT, **meta: object) -> PackedImage:
    if layout is not ImageLayout.COMPAT:
        return pack(proxy_module(), layout)
    files = PluginFiles(
        plugin_yaml=plugin_yaml(name, version, **meta),  # type: ignore[arg-type]
        readme={"en": readme.encode()} if readme else {},
        icon=Blob("image/png", PNG_1PX) if icon else None,
    )
    return pack(proxy_module(), layout, metadata=files)


def push(hub: Hub, repository: str, tag: str, image: PackedImage) -> str:
    registry = RegistryService(hub)
    for blob in image.blobs():
        registry.put_blob(repository, blob.data, blob.digest)
    return registry.put_manifest(repository, tag, image.manifest, image.manifest_media_type)
