"""Hostile plugin images for the robustness tests (issue 8): alias bombs, zip bombs.

Built from a real packed plugin, with one blob swapped and the manifest's descriptor
rewritten, so everything but the hostile part is what a real client pushes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

from tests.catalog.modules import proxy_module
from tests.catalog.publish import plugin_yaml
from wasmhub.oci.media_types import MediaType
from wasmhub.wasm import PluginFiles, pack


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RawImage:
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes]

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def alias_bomb(levels: int, width: int = 9) -> bytes:
    """A valid plugin.yaml whose exampleConfig nests ``levels`` levels of aliases."""
    lines = [
        "apiVersion: wasmhub.dev/v1",
        "kind: Plugin",
        "metadata: {name: bomb, version: 1.0.0, displayName: {en: Bomb}, "
        "description: {en: Aliases}}",
        "spec:",
        "  configSchema: {type: object}",
        "  exampleConfig:",
        "    l0: &l0 [" + ", ".join(['"lol"'] * width) + "]",
    ]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"    l{level}: &l{level} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def _swap(manifest: bytes, blobs: dict[str, bytes], pick: Any, data: bytes) -> RawImage:
    doc = json.loads(manifest)
    layer = next(layer for layer in doc["layers"] if pick(layer))
    blobs = {d: b for d, b in blobs.items() if d != layer["digest"] or d == doc["config"]["digest"]}
    layer["digest"], layer["size"] = digest_of(data), len(data)
    blobs[layer["digest"]] = data
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return RawImage(body, doc["mediaType"], blobs)


def with_plugin_yaml(text: bytes) -> RawImage:
    """A compat plugin image whose plugin.yaml layer holds ``text`` (unchecked)."""
    image = pack(proxy_module(), metadata=PluginFiles(
        plugin_yaml=plugin_yaml("bomb", "1.0.0", en="Bomb")))
    blobs = {blob.digest: blob.data for blob in image.blobs()}
    return _swap(image.manifest, blobs,
                 lambda layer: layer["mediaType"] == MediaType.HUB_PLUGIN_YAML, text)


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zero_tar_gz(total: int, members: int, seed: str = "") -> bytes:
    """A tar+gzip layer of ``members`` files of zeros, ``total`` bytes unpacked, built
    as a stream (the test never holds the unpacked bytes)."""
    buffer = io.BytesIO()
    per = total // members
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as stream, \
            tarfile.open(fileobj=stream, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for index in range(members):
            name = "plugin.wasm" if members == 1 else f"pad{seed}/{index}.bin"
            info = tarfile.TarInfo(name)
            info.size = per
            tar.addfile(info, io.BufferedReader(_Zeros(per)))
    return buffer.getvalue()


def with_plugin_layer(layer: bytes) -> RawImage:
    """A compat plugin image whose last (tar+gzip) layer is ``layer``."""
    image = pack(proxy_module())
    blobs = {blob.digest: blob.data for blob in image.blobs()}
    return _swap(image.manifest, blobs,
                 lambda layer: layer["mediaType"] == MediaType.OCI_LAYER_TAR_GZIP, layer)
