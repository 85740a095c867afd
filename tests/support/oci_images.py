"""Build small, real OCI images and OCI image-layout directories for interop tests.

Everything is deterministic for a given ``seed`` (gzip mtime 0, tar entries with fixed
metadata), so a test can compare digests before and after a round trip through a
registry. Layers are genuine ``tar+gzip`` archives and the config carries the matching
``rootfs.diff_ids``, so clients that validate images (skopeo) accept them as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.wasm_bytes import leb_u32

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
WASM_LAYER = "application/wasm"
WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def seeded_bytes(seed: str, size: int) -> bytes:
    """``size`` pseudo-random bytes derived from ``seed`` (incompressible, repeatable)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha512(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "mediaType": self.media_type, "digest": self.digest, "size": self.size,
        }
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        return desc


@dataclass(frozen=True)
class Image:
    """An image manifest and the blobs it references."""

    manifest: bytes
    config: Blob
    layers: tuple[Blob, ...]
    platform: dict[str, str] | None = None
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return (self.config, *self.layers)

    def descriptor(self) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest),
        }
        if self.platform:
            desc["platform"] = dict(self.platform)
        return desc


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform image index and its child images."""

    manifest: bytes
    images: tuple[Image, ...]
    media_type: str = OCI_INDEX

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        return tuple(b for image in self.images for b in image.blobs)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.manifest)}


Artifact = Image | ImageIndex


def tar_gz_layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A deterministic gzip'd tar of ``files``; returns (compressed bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    return gzip.compress(uncompressed, mtime=0), sha256_digest(uncompressed)


def make_image(
    seed: str, *, arch: str = "amd64", layer_sizes: tuple[int, ...] = (4096, 20_000),
    annotations: dict[str, str] | None = None,
) -> Image:
    """A linux/``arch`` image: config plus one tar+gzip layer per entry of ``layer_sizes``."""
    layers: list[Blob] = []
    diff_ids: list[str] = []
    for i, size in enumerate(layer_sizes):
        data, diff_id = tar_gz_layer(
            {f"layer{i}/data.bin": seeded_bytes(f"{seed}/{arch}/{i}", size),
             f"layer{i}/README": f"{seed} {arch} layer {i}\n".encode()}
        )
        layers.append(Blob(OCI_LAYER_GZIP, data))
        diff_ids.append(diff_id)
    config = Blob(
        OCI_CONFIG,
        canonical_json(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Env": [f"SEED={seed}"], "Cmd": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": f"wasmhub test layer {i}"} for i in range(len(layers))],
            }
        ),
    )
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        manifest["annotations"] = annotations
    return Image(canonical_json(manifest), config, tuple(layers),
                 platform={"architecture": arch, "os": "linux"})


def make_index(seed: str, arches: tuple[str, ...] = ("amd64", "arm64")) -> ImageIndex:
    images = tuple(make_image(seed, arch=arch) for arch in arches)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [image.descriptor() for image in images],
    }
    return ImageIndex(canonical_json(index), images)


def wasm_module(seed: str, size: int = 2048) -> bytes:
    """A valid, empty Wasm module padded to about ``size`` bytes with a custom section."""
    name = b"wasmhub-test"
    payload_len = max(0, size - 8 - 1 - 5 - 1 - len(name))
    payload = seeded_bytes(seed, payload_len)
    body = bytes([len(name)]) + name + payload
    return b"\0asm\x01\0\0\0" + b"\x00" + leb_u32(len(body)) + body


def write_layout(directory: Path, refs: dict[str, Artifact]) -> Path:
    """Write an OCI image layout holding each artifact under its tag (ref name)."""
    blobs_dir = directory / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def put(data: bytes) -> None:
        path = blobs_dir / sha256_digest(data).removeprefix("sha256:")
        if not path.exists():
            path.write_bytes(data)

    entries: list[dict[str, Any]] = []
    for tag, artifact in refs.items():
        images = artifact.images if isinstance(artifact, ImageIndex) else (artifact,)
        for image in images:
            for blob in image.blobs:
                put(blob.data)
            put(image.manifest)
        put(artifact.manifest)
        desc = artifact.descriptor()
        desc.pop("platform", None)
        desc["annotations"] = {REF_NAME: tag}
        entries.append(desc)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (directory / "index.json").write_text(json.dumps(index, indent=2))
    return directory


@dataclass(frozen=True)
class Layout:
    """What an OCI layout directory holds, as read back from disk."""

    path: Path
    refs: dict[str, dict[str, Any]]  # tag -> descriptor in index.json

    def blob(self, digest: str) -> bytes:
        algorithm, hex_ = digest.split(":", 1)
        return (self.path / "blobs" / algorithm / hex_).read_bytes()

    def blob_digests(self) -> set[str]:
        found: set[str] = set()
        for algorithm_dir in (self.path / "blobs").iterdir():
            for entry in algorithm_dir.iterdir():
                found.add(f"{algorithm_dir.name}:{entry.name}")
        return found

    def verify(self) -> None:
        """Every blob's content matches its name."""
        for digest in self.blob_digests():
            actual = sha256_digest(self.blob(digest))
            if actual != digest:
                raise AssertionError(f"{self.path}: blob {digest} holds {actual}")


def read_layout(directory: Path) -> Layout:
    index = json.loads((directory / "index.json").read_text())
    refs: dict[str, dict[str, Any]] = {}
    for desc in index.get("manifests", []):
        name = (desc.get("annotations") or {}).get(REF_NAME)
        if name:
            refs[name] = desc
    return Layout(directory, refs)


def all_digests(artifact: Artifact) -> set[str]:
    """The digests of every manifest and blob an artifact consists of."""
    digests = {artifact.digest} | {b.digest for b in artifact.blobs}
    if isinstance(artifact, ImageIndex):
        digests |= {image.digest for image in artifact.images}
    return digests


def file_tree_digests(directory: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``directory`` (for directory compares)."""
    out: dict[str, str] = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(root) / name
            out[str(path.relative_to(directory))] = sha256_digest(path.read_bytes())
    return out
