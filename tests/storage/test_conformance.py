"""The BlobStore conformance suite, run against every driver (see conftest.DRIVERS)."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from wasmhub.oci.digest import sha256_digest
from wasmhub.storage import BlobStore, FilesystemBlobStore, put_bytes
from wasmhub.storage.errors import (
    BlobNotFound,
    ContentDigestMismatch,
    StorageUnavailable,
    UploadBusy,
    UploadNotFound,
    UploadOffsetMismatch,
)
from wasmhub.storage.s3 import S3BlobStore

DATA = os.urandom(3 * 1024 * 1024 + 17)


def test_put_stat_open_read_delete(store: BlobStore) -> None:
    info = put_bytes(store, DATA)
    assert info.digest == sha256_digest(DATA) and info.size == len(DATA)
    assert store.stat(info.digest) == info
    with store.open(info.digest) as f:
        assert f.read() == DATA
    with store.open(info.digest, offset=len(DATA) - 10) as f:
        assert f.read() == DATA[-10:]
    assert [b.digest for b in store.walk()] == [info.digest]
    assert store.delete(info.digest) is True
    assert store.delete(info.digest) is False
    assert store.stat(info.digest) is None
    with pytest.raises(BlobNotFound):
        store.open(info.digest)


def test_put_is_idempotent(store: BlobStore) -> None:
    a = put_bytes(store, b"same")
    b = put_bytes(store, b"same", sha256_digest(b"same"))
    assert a == b and len(list(store.walk())) == 1


def test_sha512_blob(store: BlobStore) -> None:
    digest = "sha512:" + hashlib.sha512(b"five!").hexdigest()
    assert put_bytes(store, b"five!", digest).digest == digest
    with store.open(digest) as f:
        assert f.read() == b"five!"
    store.delete(digest)


def test_wrong_digest_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(ContentDigestMismatch) as info:
        put_bytes(store, b"content", sha256_digest(b"other"))
    assert info.value.detail["actual"] == sha256_digest(b"content")  # type: ignore[index]
    assert list(store.walk()) == []


def test_aborted_writer_leaves_nothing(store: BlobStore) -> None:
    writer = store.new_writer()
    writer.write(b"partial")
    writer.abort()
    assert list(store.walk()) == []


def test_chunked_upload_session(store: BlobStore) -> None:
    session = store.create_upload({"repository": "a/b"})
    assert session.size == 0 and session.metadata == {"repository": "a/b"}
    for start in range(0, len(DATA), 1024 * 1024):
        writer = store.append_upload(session.upload_id, offset=start)
        writer.write(DATA[start:start + 1024 * 1024])
        writer.close()
    assert store.upload_info(session.upload_id).size == len(DATA)
    assert store.stat(sha256_digest(DATA)) is None  # nothing visible before commit
    info = store.commit_upload(session.upload_id, sha256_digest(DATA))
    assert info.size == len(DATA)
    with store.open(info.digest) as f:
        assert hashlib.sha256(f.read()).hexdigest() == info.digest.split(":")[1]
    with pytest.raises(UploadNotFound):
        store.upload_info(session.upload_id)
    store.delete(info.digest)


def test_out_of_order_chunk_is_rejected(store: BlobStore) -> None:
    session = store.create_upload()
    writer = store.append_upload(session.upload_id, offset=0)
    writer.write(b"abc")
    writer.close()
    with pytest.raises(UploadOffsetMismatch):
        store.append_upload(session.upload_id, offset=10)
    with pytest.raises(UploadOffsetMismatch):
        store.append_upload(session.upload_id, offset=0)
    assert store.upload_info(session.upload_id).size == 3
    store.cancel_upload(session.upload_id)


def test_aborted_chunk_keeps_earlier_chunks(store: BlobStore) -> None:
    session = store.create_upload()
    writer = store.append_upload(session.upload_id)
    writer.write(b"kept")
    writer.close()
    writer = store.append_upload(session.upload_id)
    writer.write(b"lost")
    writer.abort()
    assert store.upload_info(session.upload_id).size == 4
    info = store.commit_upload(session.upload_id, sha256_digest(b"kept"))
    assert info.size == 4
    store.delete(info.digest)


def test_busy_session_refuses_second_writer(store: BlobStore) -> None:
    store.lock_wait_seconds = 0.05  # type: ignore[attr-defined]
    session = store.create_upload()
    writer = store.append_upload(session.upload_id)
    with pytest.raises(UploadBusy):
        store.append_upload(session.upload_id)
    writer.close()
    store.cancel_upload(session.upload_id)


def test_commit_with_wrong_digest_discards_session(store: BlobStore) -> None:
    session = store.create_upload()
    writer = store.append_upload(session.upload_id)
    writer.write(b"data")
    writer.close()
    with pytest.raises(ContentDigestMismatch):
        store.commit_upload(session.upload_id, sha256_digest(b"nope"))
    assert list(store.walk()) == []
    with pytest.raises(UploadNotFound):
        store.upload_info(session.upload_id)


@pytest.mark.parametrize("upload_id", ["../../etc", "nope", "0" * 31, "A" * 32, ""])
def test_unknown_or_hostile_upload_ids(store: BlobStore, upload_id: str) -> None:
    with pytest.raises(UploadNotFound):
        store.upload_info(upload_id)
    with pytest.raises(UploadNotFound):
        store.append_upload(upload_id)
    with pytest.raises(UploadNotFound):
        store.cancel_upload(upload_id)


def test_list_uploads_and_cancel(store: BlobStore) -> None:
    a = store.create_upload({"repository": "x"})
    b = store.create_upload()
    assert {u.upload_id for u in store.list_uploads()} == {a.upload_id, b.upload_id}
    store.cancel_upload(a.upload_id)
    store.cancel_upload(b.upload_id)
    with pytest.raises(UploadNotFound):
        store.cancel_upload(a.upload_id)


def test_concurrent_writers_of_the_same_blob(store: BlobStore) -> None:
    errors: list[BaseException] = []

    def push() -> None:
        try:
            put_bytes(store, DATA, sha256_digest(DATA))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [b.size for b in store.walk()] == [len(DATA)]


def _replica(store: BlobStore) -> BlobStore:
    """A second driver on the same backend: another replica, or this one restarted."""
    if isinstance(store, FilesystemBlobStore):
        return FilesystemBlobStore(store.root)
    assert isinstance(store, S3BlobStore)
    return S3BlobStore(store.bucket, prefix=store.prefix, part_size=store.part_size,
                       client=store.client)


def test_session_survives_a_restart(store: BlobStore) -> None:
    """A second store on the same backend (a restart or another replica) resumes it."""
    session = store.create_upload({"repository": "r"})
    writer = store.append_upload(session.upload_id)
    writer.write(DATA[:1000])
    writer.close()
    other = _replica(store)
    assert other.upload_info(session.upload_id).size == 1000
    writer = other.append_upload(session.upload_id, offset=1000)
    writer.write(DATA[1000:])
    writer.close()
    # The first store's cached hash is stale now; it must notice and re-hash.
    info = store.commit_upload(session.upload_id, sha256_digest(DATA))
    assert info.size == len(DATA)
    store.delete(info.digest)


BIG = os.urandom(12 * 1024 * 1024 + 333)  # spans several parts of the S3 driver


def test_chunks_alternating_between_replicas(store: BlobStore) -> None:
    """Chunks of one session land on two replicas in turn; a third commits it."""
    replicas = [store, _replica(store)]
    session = store.create_upload({"repository": "r"})
    step = 1536 * 1024 + 7
    for n, start in enumerate(range(0, len(BIG), step)):
        writer = replicas[n % 2].append_upload(session.upload_id, offset=start)
        writer.write(BIG[start:start + step])
        writer.close()
    assert _replica(store).upload_info(session.upload_id).size == len(BIG)
    with pytest.raises(ContentDigestMismatch):
        _replica(store).commit_upload(session.upload_id, sha256_digest(BIG[:-1]))
    assert list(store.walk()) == []

    session = store.create_upload()
    for n, start in enumerate(range(0, len(BIG), step)):
        writer = replicas[n % 2].append_upload(session.upload_id)
        writer.write(BIG[start:start + step])
        writer.close()
    info = _replica(store).commit_upload(session.upload_id, sha256_digest(BIG))
    assert info == store.stat(sha256_digest(BIG))
    with store.open(info.digest) as f:
        assert hashlib.sha256(f.read()).hexdigest() == info.digest.split(":")[1]
    with store.open(info.digest, offset=len(BIG) - 5) as f:
        assert f.read() == BIG[-5:]
    store.delete(info.digest)


def test_large_single_stream_write(store: BlobStore) -> None:
    writer = store.new_writer()
    for start in range(0, len(BIG), 1024 * 1024):
        writer.write(BIG[start:start + 1024 * 1024])
    assert writer.size == len(BIG)
    info = writer.commit(sha256_digest(BIG))
    assert store.stat(info.digest) == info
    store.delete(info.digest)
    writer = store.new_writer()
    writer.write(BIG)
    writer.abort()
    assert list(store.walk()) == []


def test_interrupted_single_stream_write_is_listed_and_cancellable(store: BlobStore) -> None:
    """A large single-stream write cut off mid-way (a killed replica) is an upload gc
    can find and remove."""
    writer = store.new_writer()
    writer.write(BIG)  # more than one part: bytes are in the backend now
    listed = list(store.list_uploads())
    assert len(listed) == 1
    store.cancel_upload(listed[0].upload_id)
    assert list(store.list_uploads()) == []


def test_modified_time_is_the_store_time(store: BlobStore) -> None:
    before = time.time()
    info = put_bytes(store, b"dated")
    after = time.time()
    stat = store.stat(info.digest)
    assert stat is not None
    # Stores keep whole seconds at least; allow the rounding either way.
    assert before - 2 <= stat.modified <= after + 2
    assert [b.modified for b in store.walk()] == [stat.modified]
    store.delete(info.digest)


def test_redirect_url_serves_the_blob(store: BlobStore) -> None:
    info = put_bytes(store, DATA)
    url = store.redirect_url(info.digest, 60)
    if isinstance(store, FilesystemBlobStore):
        assert url is None  # the hub serves its own files
    else:
        assert url is not None
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200 and response.content == DATA
    store.delete(info.digest)


def test_check_reports_reachability(store: BlobStore, tmp_path: Path) -> None:
    store.check()
    broken: BlobStore
    if isinstance(store, S3BlobStore):
        broken = S3BlobStore("wasmhub-no-such-bucket", client=store.client)
    else:
        broken = FilesystemBlobStore(tmp_path / "gone")
        shutil.rmtree(tmp_path / "gone")  # the volume went away under the server
    with pytest.raises(StorageUnavailable):
        broken.check()
