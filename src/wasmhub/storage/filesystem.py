"""The filesystem ``BlobStore``: content-addressed files under one root directory.

Layout (everything the driver writes is below ``root``)::

    blobs/<algorithm>/<first two hex>/<hex>   a verified, immutable blob
    uploads/<upload id>/data                  bytes received so far
    uploads/<upload id>/state.json            session metadata (resumable sessions only)

A single-stream write uses an ``uploads/<id>/`` directory without ``state.json``. Blobs
appear by ``os.replace`` of a fsynced, verified ``data`` file, so a reader (or a crash)
never sees a partial blob. Sessions are shared by worker processes through the files;
an ``flock`` on ``data`` serialises writers, and each process caches the running hash
of sessions it touched, re-hashing from disk when another process appended since.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from wasmhub.oci.digest import Digest, DigestAlgorithm, Hasher, new_hasher
from wasmhub.storage.base import BlobInfo, UploadInfo, parse_digest
from wasmhub.storage.errors import (
    BlobNotFound,
    ContentDigestMismatch,
    StorageUnavailable,
    UploadBusy,
    UploadNotFound,
    UploadOffsetMismatch,
)

READ_CHUNK = 1024 * 1024
_UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")
_HASH_CACHE_LIMIT = 4096


def _lock_within(fd: int, seconds: float) -> bool:
    """Take the exclusive lock, waiting a little: a client retrying right after a dropped
    connection races the server's cleanup of the dropped request."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(fd: int, size: int, algorithm: DigestAlgorithm) -> Hasher:
    hasher = new_hasher(algorithm)
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(READ_CHUNK, size - offset), offset)
        if not chunk:
            break
        hasher.update(chunk)
        offset += len(chunk)
    return hasher


class _FileWriter:
    """Appends to ``uploads/<id>/data`` under an exclusive lock, hashing every byte."""

    def __init__(self, store: FilesystemBlobStore, upload_id: str, *, session: bool,
                 offset: int | None) -> None:
        self._store = store
        self.upload_id = upload_id
        self._session = session
        self._dir = store.uploads_dir / upload_id
        try:
            self._fd = os.open(self._dir / "data", os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id}) from None
        if not _lock_within(self._fd, store.lock_wait_seconds):
            os.close(self._fd)
            raise UploadBusy(
                "the upload is receiving another chunk; retry when it finishes",
                detail={"upload": upload_id},
            ) from None
        self._open = True
        self._start = os.fstat(self._fd).st_size
        if offset is not None and offset != self._start:
            self._release()
            raise UploadOffsetMismatch(
                f"chunk starts at byte {offset} but the upload holds {self._start} bytes",
                upload_id=upload_id, size=self._start,
            )
        self._hasher = store.cached_hasher(upload_id, self._fd, self._start)
        self._start_hasher = self._hasher.copy()
        self._size = self._start

    @property
    def size(self) -> int:
        return self._size

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hasher.update(chunk)
        self._size += len(chunk)

    def close(self) -> None:
        if self._open:
            self._store.remember_hasher(self.upload_id, self._size, self._hasher)
            self._release()

    def abort(self) -> None:
        if not self._open:
            return
        if self._session:
            os.ftruncate(self._fd, self._start)
            self._store.remember_hasher(self.upload_id, self._start, self._start_hasher)
            self._release()
        else:
            self._release()
            self._store.remove_upload_dir(self.upload_id)

    def commit(self, expected_digest: str | None = None) -> BlobInfo:
        if not self._open:
            raise UploadNotFound(f"no upload {self.upload_id}", detail={"upload": self.upload_id})
        try:
            digest = self._verify(expected_digest)
            os.fsync(self._fd)
            self._store.publish(self._dir / "data", digest)
        except BaseException:
            self._release()
            self._store.remove_upload_dir(self.upload_id)
            raise
        self._release()
        self._store.remove_upload_dir(self.upload_id)
        return BlobInfo(str(digest), self._size)

    def _verify(self, expected_digest: str | None) -> Digest:
        if expected_digest is None:
            return Digest(DigestAlgorithm.SHA256, self._hasher.hexdigest())
        expected = parse_digest(expected_digest)
        if expected.algorithm is DigestAlgorithm.SHA256:
            actual = self._hasher.hexdigest()
        else:
            # Only sha256 is computed inline; other algorithms re-read the data once.
            actual = _hash_file(self._fd, self._size, expected.algorithm).hexdigest()
        if actual != expected.encoded:
            raise ContentDigestMismatch(str(expected), f"{expected.algorithm}:{actual}")
        return expected

    def _release(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)


class FilesystemBlobStore:
    """A :class:`~wasmhub.storage.base.BlobStore` on a local directory tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs_dir = root / "blobs"
        self.uploads_dir = root / "uploads"
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._hashers: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()
        self._lock = threading.Lock()
        # How long a chunk waits for another request's chunk to finish before UploadBusy.
        self.lock_wait_seconds = 5.0

    # -- paths ---------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        return self.blobs_dir / digest.algorithm / digest.encoded[:2] / digest.encoded

    def _upload_dir(self, upload_id: str) -> Path:
        # The id becomes a path component: accept only our own format (no traversal).
        if not _UPLOAD_ID_RE.match(upload_id):
            raise UploadNotFound("no such upload", detail={"upload": upload_id[:64]})
        return self.uploads_dir / upload_id

    # -- reading -------------------------------------------------------------------

    def stat(self, digest: str) -> BlobInfo | None:
        try:
            st = self.blob_path(parse_digest(digest)).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(digest, st.st_size, st.st_mtime)

    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        try:
            handle = self.blob_path(parse_digest(digest)).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}", detail={"digest": digest}) from None
        if offset:
            handle.seek(offset)
        return handle

    def redirect_url(self, digest: str, expires_seconds: int) -> str | None:
        return None  # served by the hub itself

    def check(self) -> None:
        if not all(d.is_dir() and os.access(d, os.W_OK) for d in (self.blobs_dir,
                                                                    self.uploads_dir)):
            raise StorageUnavailable(f"blob directory {self.root} is not writable")

    def walk(self) -> Iterator[BlobInfo]:
        for algorithm in DigestAlgorithm:
            base = self.blobs_dir / algorithm
            if not base.is_dir():
                continue
            for prefix in sorted(base.iterdir()):
                for entry in sorted(prefix.iterdir()) if prefix.is_dir() else ():
                    with contextlib.suppress(FileNotFoundError):
                        st = entry.stat()
                        yield BlobInfo(f"{algorithm}:{entry.name}", st.st_size, st.st_mtime)

    # -- writing -------------------------------------------------------------------

    def _new_upload_dir(self) -> str:
        upload_id = uuid.uuid4().hex
        directory = self.uploads_dir / upload_id
        directory.mkdir()
        (directory / "data").touch()
        return upload_id

    def new_writer(self) -> _FileWriter:
        return _FileWriter(self, self._new_upload_dir(), session=False, offset=None)

    def create_upload(self, metadata: Mapping[str, str] | None = None) -> UploadInfo:
        upload_id = self._new_upload_dir()
        started = time.time()
        state = {"started_at": started, "metadata": dict(metadata or {})}
        state_path = self.uploads_dir / upload_id / "state.json"
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, state_path)
        return UploadInfo(upload_id, 0, started, dict(metadata or {}))

    def upload_info(self, upload_id: str) -> UploadInfo:
        directory = self._upload_dir(upload_id)
        try:
            state = json.loads((directory / "state.json").read_text())
            data = (directory / "data").stat()
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id}) from None
        return UploadInfo(upload_id, data.st_size, float(state["started_at"]),
                          dict(state["metadata"]), data.st_mtime)

    def append_upload(self, upload_id: str, offset: int | None = None) -> _FileWriter:
        if not (self._upload_dir(upload_id) / "state.json").exists():
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id})
        return _FileWriter(self, upload_id, session=True, offset=offset)

    def commit_upload(self, upload_id: str, expected_digest: str) -> BlobInfo:
        return self.append_upload(upload_id).commit(expected_digest)

    def cancel_upload(self, upload_id: str) -> None:
        directory = self._upload_dir(upload_id)
        if not directory.is_dir():
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id})
        self.remove_upload_dir(upload_id)

    def list_uploads(self) -> Iterator[UploadInfo]:
        for entry in self.uploads_dir.iterdir():
            if not _UPLOAD_ID_RE.match(entry.name):
                continue
            try:
                yield self.upload_info(entry.name)
            except UploadNotFound:
                # A single-stream write (no state.json), possibly interrupted by a crash.
                with contextlib.suppress(FileNotFoundError):
                    data = entry / "data"
                    yield UploadInfo(entry.name, data.stat().st_size, data.stat().st_mtime)

    def delete(self, digest: str) -> bool:
        try:
            self.blob_path(parse_digest(digest)).unlink()
        except FileNotFoundError:
            return False
        return True

    # -- helpers for _FileWriter ---------------------------------------------------

    def publish(self, source: Path, digest: Digest) -> None:
        """Atomically move a verified, fsynced file into its content address."""
        target = self.blob_path(digest)
        if target.exists():
            return  # same digest, same bytes: the existing blob stays
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(target.parent)

    def remove_upload_dir(self, upload_id: str) -> None:
        with self._lock:
            self._hashers.pop(upload_id, None)
        shutil.rmtree(self.uploads_dir / upload_id, ignore_errors=True)

    def cached_hasher(self, upload_id: str, fd: int, size: int) -> Hasher:
        with self._lock:
            cached = self._hashers.get(upload_id)
        if cached is not None and cached[0] == size:
            return cached[1].copy()
        # Another process appended (or this one restarted): recompute from the data.
        return _hash_file(fd, size, DigestAlgorithm.SHA256)

    def remember_hasher(self, upload_id: str, size: int, hasher: Hasher) -> None:
        with self._lock:
            self._hashers[upload_id] = (size, hasher.copy())
            self._hashers.move_to_end(upload_id)
            while len(self._hashers) > _HASH_CACHE_LIMIT:
                self._hashers.popitem(last=False)
