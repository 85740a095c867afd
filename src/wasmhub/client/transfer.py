"""Image transfers built on ``RegistryClient``: push a packed image, fetch one, copy one.

``push_image`` uploads the config and layers (skipping blobs the registry already has,
uploading each distinct digest once) and then PUTs the manifest. ``copy_image`` copies a
manifest (and, for an index, its child manifests) to another tag or repository: blobs are
mounted across repositories on the same registry and streamed through a temporary file
between registries. ``BlobFetcher`` is the verified, cached ``fetch_blob(digest)`` callable
that ``wasmhub.wasm.unpack`` takes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wasmhub.client.registry import Manifest, ProgressCallback, RegistryClient
from wasmhub.oci.reference import Reference

TransferCallback = Callable[[str, int, int | None], None]
"""``callback(label, bytes_done, bytes_total)`` where label is a short blob digest."""


class BlobLike(Protocol):
    @property
    def media_type(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def digest(self) -> str: ...
    @property
    def size(self) -> int: ...


class ImageLike(Protocol):
    """What ``wasmhub.wasm.PackedImage`` offers."""

    @property
    def manifest(self) -> bytes: ...
    @property
    def manifest_media_type(self) -> str: ...
    @property
    def config(self) -> BlobLike: ...
    @property
    def layers(self) -> Sequence[BlobLike]: ...


@dataclass(frozen=True)
class PushResult:
    reference: Reference
    digest: str
    size: int
    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def push_image(client: RegistryClient, ref: Reference, image: ImageLike,
               progress: TransferCallback | None = None) -> PushResult:
    seen: set[str] = set()
    uploaded: list[str] = []
    skipped: list[str] = []
    for blob in (image.config, *image.layers):
        if blob.digest in seen:
            continue
        seen.add(blob.digest)
        if client.blob_exists(ref.repository, blob.digest):
            skipped.append(blob.digest)
            if progress is not None:
                progress(short(blob.digest), blob.size, blob.size)
            continue
        client.upload_blob(ref.repository, blob.data, blob.digest,
                           progress=_labelled(progress, short(blob.digest)))
        uploaded.append(blob.digest)
    target = ref.tag or ref.digest or "latest"
    digest = client.put_manifest(ref.repository, target, image.manifest,
                                 image.manifest_media_type)
    return PushResult(ref.with_digest(digest), digest, len(image.manifest),
                      tuple(uploaded), tuple(skipped))


def _labelled(progress: TransferCallback | None, label: str) -> ProgressCallback | None:
    if progress is None:
        return None
    callback = progress

    def report(done: int, total: int | None) -> None:
        callback(label, done, total)

    return report


class BlobFetcher:
    """``fetch(digest) -> bytes`` for one repository, verified and memoized."""

    def __init__(self, client: RegistryClient, repository: str,
                 progress: TransferCallback | None = None) -> None:
        self.client = client
        self.repository = repository
        self.progress = progress
        self._cache: dict[str, bytes] = {}

    def __call__(self, digest: str) -> bytes:
        if digest not in self._cache:
            self._cache[digest] = self.client.fetch_blob(
                self.repository, digest, progress=_labelled(self.progress, short(digest)))
        return self._cache[digest]


def _descriptors(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    config = manifest.get("config")
    if isinstance(config, dict):
        items.append(config)
    for layer in manifest.get("layers") or []:
        if isinstance(layer, dict):
            items.append(layer)
    return items


def _copy_blob(src: RegistryClient, src_repo: str, dst: RegistryClient, dst_repo: str,
               digest: str, progress: TransferCallback | None) -> bool:
    """Make ``digest`` exist in ``dst_repo``; returns True when bytes moved or got mounted."""
    if dst.blob_exists(dst_repo, digest):
        return False
    if src.registry == dst.registry and src_repo != dst_repo and dst.mount_blob(
        dst_repo, digest, src_repo
    ):
        return True
    with tempfile.TemporaryDirectory(prefix="wasmhub-copy-") as tmp:
        path = Path(tmp) / "blob"
        src.download_blob(src_repo, digest, path, progress=_labelled(progress, short(digest)))
        dst.upload_blob(dst_repo, path, digest)
    return True


def copy_manifest(src: RegistryClient, src_repo: str, manifest: Manifest,
                  dst: RegistryClient, dst_repo: str, dst_reference: str,
                  progress: TransferCallback | None = None) -> str:
    """Copy one manifest (recursively for an index) and every blob it names."""
    body = manifest.json()
    if manifest.is_index:
        for child in body.get("manifests") or []:
            child_digest = str(child["digest"])
            if dst.head_manifest(dst_repo, child_digest) is None:
                child_manifest = src.get_manifest(src_repo, child_digest)
                copy_manifest(src, src_repo, child_manifest, dst, dst_repo, child_digest,
                              progress)
    else:
        for descriptor in _descriptors(body):
            _copy_blob(src, src_repo, dst, dst_repo, str(descriptor["digest"]), progress)
    return dst.put_manifest(dst_repo, dst_reference, manifest.payload, manifest.media_type)


def copy_image(src: RegistryClient, src_ref: Reference, dst: RegistryClient,
               dst_ref: Reference, progress: TransferCallback | None = None) -> str:
    """``tag``: make ``dst_ref`` name the same manifest as ``src_ref``; returns its digest."""
    manifest = src.get_manifest(src_ref.repository, src_ref.reference)
    target = dst_ref.tag or dst_ref.digest or "latest"
    return copy_manifest(src, src_ref.repository, manifest, dst, dst_ref.repository, target,
                         progress)
