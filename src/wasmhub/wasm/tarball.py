"""Deterministic tar+gzip layers: build them byte-for-byte reproducibly, read them safely.

Entries get mtime 0, uid/gid 0, empty owner names and mode 0644; gzip gets mtime 0 and
no file name, so the same files always give the same digest. Reading is bounded (no
decompression bombs, no links followed) and failures become ``LayoutError``.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib

from wasmhub.wasm.errors import LayoutError

# Istio's default ISTIO_WASM_MAX_BINARY_SIZE_BYTES (plugin-ecosystem.md B3).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


def build_tar(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def gunzip_bounded(data: bytes, what: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(MAX_UNPACKED_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise LayoutError(f"{what} is not valid gzip data: {exc}") from exc
    if len(out) > MAX_UNPACKED_BYTES:
        raise LayoutError(f"{what} unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    return out


def read_tar_files(tar_bytes: bytes, what: str) -> dict[str, bytes]:
    """Regular files in the archive, keyed by their path without a leading ``./``."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                name = member.name.removeprefix("./").lstrip("/")
                files[name] = extracted.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise LayoutError(f"{what} is not a valid tar archive: {exc}") from exc
    return files
