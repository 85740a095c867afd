"""Deterministic tar+gzip layers: build them byte-for-byte reproducibly, read them safely.

Entries get mtime 0, uid/gid 0, empty owner names and mode 0644; gzip gets mtime 0 and
no file name, so the same files always give the same digest. Reading is bounded (no
decompression bombs, no links followed) and failures become ``LayoutError``:
:func:`read_tar_gz_files` decompresses as a stream and stops at the first byte past its
limit, so a small layer that would unpack to gigabytes costs at most the limit in memory.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib

from wasmhub.wasm.errors import LayoutError

# Istio's default ISTIO_WASM_MAX_BINARY_SIZE_BYTES (plugin-ecosystem.md B3).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
# Room for tar headers and runtime-config.json beside a module of the maximum size.
TAR_OVERHEAD_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


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


class _BoundedStream(io.RawIOBase):
    """Decompressed bytes of a gzip member, refusing to produce more than ``limit``."""

    def __init__(self, data: bytes, limit: int, what: str) -> None:
        self._gzip = gzip.GzipFile(fileobj=io.BytesIO(data))
        self._left = limit
        self._limit = limit
        self._what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            chunk = self._gzip.read(min(len(buffer), _CHUNK))
        except (OSError, EOFError, zlib.error) as exc:
            raise LayoutError(f"{self._what} is not valid gzip data: {exc}") from exc
        self._left -= len(chunk)
        if self._left < 0:
            raise LayoutError(
                f"{self._what} unpacks to more than {self._limit} bytes; the hub stopped "
                "reading it (a plugin layer holds one module of at most max_module_bytes)"
            )
        buffer[: len(chunk)] = chunk
        return len(chunk)


def read_tar_gz_files(data: bytes, what: str, limit: int) -> dict[str, bytes]:
    """Regular files of a tar+gzip layer, unpacking at most ``limit`` bytes in all.

    Streams: member headers are checked before their data is read, and decompression
    stops as soon as the total passes ``limit`` (``LayoutError``), so memory stays
    within about ``limit`` whatever the compression ratio.
    """
    files: dict[str, bytes] = {}
    stream = io.BufferedReader(_BoundedStream(data, limit, what), buffer_size=_CHUNK)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.size > limit:
                    raise LayoutError(
                        f"{what} holds {member.name!r} of {member.size} bytes, more than "
                        f"the {limit} byte limit"
                    )
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
