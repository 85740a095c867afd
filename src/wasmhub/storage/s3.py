"""The S3 ``BlobStore``: content-addressed objects in one bucket of an S3-compatible store.

Written for AWS S3, MinIO, Ceph RGW and GCS's S3 API; tested against moto's S3 server
(an emulator). Keys, all below the optional ``prefix``::

    blobs/<algorithm>/<first two hex>/<hex>   a verified, immutable blob
    uploads/<id>/state.json                  session state (size, parts, lease)
    uploads/<id>/data                        the multipart upload receiving the parts
    uploads/<id>/tail.<n>                    bytes after the last part (< one part)

Nothing a session needs lives in process memory: any replica can take the next chunk.
The state object records the multipart parts written so far and names the current
tail object; a chunk appends to tail + new bytes and uploads a part whenever a full
part (``part_size``) is buffered. Writers serialise on a lease in the state object,
taken and released with conditional writes (``If-Match`` on its ETag), so two replicas
never write one session at once, and a replica killed mid-chunk frees it after
``LEASE_SECONDS``. The state names only parts and tails already written, so a crash
leaves the session as it was before the interrupted chunk.

A replica caches the running sha256 of sessions it wrote; when a chunk came through
another replica (or after a restart) the commit re-reads the assembled object and
hashes it (a verified re-read) before the blob is published. A blob appears by a
single PUT or server-side COPY to its content address, so no reader sees a part of it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

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

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (all but the last)
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MAX_COPY_OBJECT = 5 * 1024**3  # larger objects must be copied part by part
LEASE_SECONDS = 30.0
READ_CHUNK = 1024 * 1024
_UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_HASH_CACHE_LIMIT = 4096


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(exc: Exception, what: str) -> StorageUnavailable:
    return StorageUnavailable(f"object store failed to {what}: {exc}")


@dataclass
class _State:
    """``uploads/<id>/state.json``; ``etag`` is the version this process read or wrote."""

    started_at: float
    metadata: dict[str, str]
    session: bool
    size: int = 0
    mpu: str | None = None
    parts: list[dict[str, Any]] = field(default_factory=list)
    tail: str | None = None
    tail_size: int = 0
    generation: int = 0
    lease_token: str | None = None
    lease_until: float = 0.0
    updated_at: float = 0.0  # last state write: what the idle-upload sweeper compares
    etag: str = ""

    def to_json(self) -> bytes:
        data = {k: v for k, v in self.__dict__.items() if k != "etag"}
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes, etag: str) -> _State:
        data = json.loads(raw)
        return cls(**data, etag=etag)


class _S3Writer:
    """Appends to a session (or a single-stream write), one part per ``part_size``."""

    def __init__(self, store: S3BlobStore, upload_id: str, state: _State,
                 hasher: Hasher | None) -> None:
        self._store = store
        self.upload_id = upload_id
        self._state = state
        self._start_size = state.size
        self._hasher = hasher
        self._buffer = bytearray(store.read_tail(upload_id, state))
        self._new_parts: list[dict[str, Any]] = []
        self._open = True

    @property
    def size(self) -> int:
        return self._state.size + sum(int(p["size"]) for p in self._new_parts) \
            + len(self._buffer) - self._state.tail_size

    def write(self, chunk: bytes) -> None:
        if not self._open:
            raise UploadNotFound(f"upload {self.upload_id} is closed")
        self._buffer += chunk
        if self._hasher is not None:
            self._hasher.update(chunk)
        while len(self._buffer) >= self._store.part_size:
            self._flush_part(bytes(self._buffer[:self._store.part_size]))
            del self._buffer[:self._store.part_size]

    def _flush_part(self, data: bytes) -> None:
        if self._state.mpu is None:
            self._state.mpu = self._store.start_multipart(self.upload_id)
            # Name it before using it, so gc (or a cancel) can abort it after a crash.
            self._store.save_state(self.upload_id, self._state, create=not self._state.etag)
        # Only while the lease is ours: a replica that stalled past it must not write
        # a part number the new holder uses (renewing fails with UploadBusy then).
        self._store.renew_lease(self.upload_id, self._state)
        number = len(self._state.parts) + len(self._new_parts) + 1
        etag = self._store.upload_part(self.upload_id, self._state.mpu, number, data)
        self._new_parts.append({"PartNumber": number, "ETag": etag, "size": len(data)})

    def close(self) -> None:
        """Keep what was written: a new tail object, then the state that names it."""
        if not self._open:
            return
        self._open = False
        self._store.renew_lease(self.upload_id, self._state)
        old_tail = self._state.tail
        size = self.size
        self._state.generation += 1
        if self._buffer:
            # A name of its own: a stalled former lease holder never overwrites it.
            self._state.tail = f"tail.{self._state.generation}.{uuid.uuid4().hex[:12]}"
            self._store.put_upload_object(self.upload_id, self._state.tail, bytes(self._buffer))
        else:
            self._state.tail = None
        self._state.tail_size = len(self._buffer)
        self._state.parts += self._new_parts
        self._state.size = size
        self._state.lease_token, self._state.lease_until = None, 0.0
        self._store.save_state(self.upload_id, self._state)
        if old_tail and old_tail != self._state.tail:
            self._store.delete_upload_object(self.upload_id, old_tail)
        if self._hasher is not None:
            self._store.remember_hasher(self.upload_id, size, self._hasher)

    def abort(self) -> None:
        """Discard this writer's bytes; a session keeps its earlier chunks."""
        if not self._open:
            return
        self._open = False
        if self._state.session:
            # Parts uploaded by this writer are not in the state: the next chunk
            # overwrites them, and completion lists only recorded parts.
            self._state.lease_token, self._state.lease_until = None, 0.0
            with contextlib.suppress(UploadBusy, StorageUnavailable):
                self._store.save_state(self.upload_id, self._state)
        else:
            self._store.discard_upload(self.upload_id, self._state)

    def commit(self, expected_digest: str | None = None) -> BlobInfo:
        if not self._open:
            raise UploadNotFound(f"upload {self.upload_id} is closed",
                                 detail={"upload": self.upload_id})
        self._open = False
        try:
            return self._store.publish(self.upload_id, self._state, self._new_parts,
                                       bytes(self._buffer), self._hasher, expected_digest)
        finally:
            self._store.discard_upload(self.upload_id, self._state)


class S3BlobStore:
    """A :class:`~wasmhub.storage.base.BlobStore` on one S3 bucket (optionally a prefix)."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, addressing_style: str = "auto",
                 part_size: int = DEFAULT_PART_SIZE, client: Any = None) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.lock_wait_seconds = 5.0
        self.lease_seconds = LEASE_SECONDS
        config = Config(s3={"addressing_style": addressing_style},
                        retries={"max_attempts": 5, "mode": "standard"},
                        max_pool_connections=64, connect_timeout=10, read_timeout=60)
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._hashers: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()
        self._lock = threading.Lock()

    # -- keys ----------------------------------------------------------------------

    def blob_key(self, digest: Digest) -> str:
        return f"{self.prefix}blobs/{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}"

    def _upload_key(self, upload_id: str, name: str) -> str:
        if not _UPLOAD_ID_RE.match(upload_id):
            raise UploadNotFound("no such upload", detail={"upload": upload_id[:64]})
        return f"{self.prefix}uploads/{upload_id}/{name}"

    # -- reading -------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise _unavailable(exc, "stat an object") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "stat an object") from exc

    def stat(self, digest: str) -> BlobInfo | None:
        head = self._head(self.blob_key(parse_digest(digest)))
        if head is None:
            return None
        return BlobInfo(digest, int(head["ContentLength"]), head["LastModified"].timestamp())

    def open(self, digest: str, offset: int = 0) -> BinaryIO:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.blob_key(parse_digest(digest))}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            body = self.client.get_object(**args)["Body"]
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise BlobNotFound(f"no blob {digest}", detail={"digest": digest}) from None
            if _code(exc) == "InvalidRange":
                return io.BytesIO(b"")
            raise _unavailable(exc, "read a blob") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "read a blob") from exc
        return cast(BinaryIO, body)

    def redirect_url(self, digest: str, expires_seconds: int) -> str | None:
        key = self.blob_key(parse_digest(digest))
        return cast(str, self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds,
        ))

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, f"reach bucket {self.bucket!r}") from exc

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "list objects") from exc

    def walk(self) -> Iterator[BlobInfo]:
        base = f"{self.prefix}blobs/"
        for obj in self._list(base):
            algorithm, _, rest = obj["Key"][len(base):].partition("/")
            encoded = rest.rpartition("/")[2]
            yield BlobInfo(f"{algorithm}:{encoded}", int(obj["Size"]),
                           obj["LastModified"].timestamp())

    def delete(self, digest: str) -> bool:
        key = self.blob_key(parse_digest(digest))
        if self._head(key) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "delete a blob") from exc
        return True

    # -- sessions ------------------------------------------------------------------

    def _load_state(self, upload_id: str) -> _State:
        key = self._upload_key(upload_id, "state.json")
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=key)
            return _State.from_json(got["Body"].read(), got["ETag"])
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise UploadNotFound(f"no upload {upload_id}",
                                     detail={"upload": upload_id}) from None
            raise _unavailable(exc, "read an upload's state") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "read an upload's state") from exc

    def save_state(self, upload_id: str, state: _State, *, create: bool = False) -> None:
        """Write the state if nobody else did since we read it (else UploadBusy)."""
        condition = {"IfNoneMatch": "*"} if create else {"IfMatch": state.etag}
        state.updated_at = time.time()
        try:
            put = self.client.put_object(
                Bucket=self.bucket, Key=self._upload_key(upload_id, "state.json"),
                Body=state.to_json(), ContentType="application/json", **condition,
            )
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise UploadBusy("another request took over the upload; retry",
                                 detail={"upload": upload_id}) from None
            if _code(exc) in _NOT_FOUND:
                raise UploadNotFound(f"no upload {upload_id}",
                                     detail={"upload": upload_id}) from None
            raise _unavailable(exc, "write an upload's state") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "write an upload's state") from exc
        state.etag = put["ETag"]

    def _take_lease(self, upload_id: str) -> _State:
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            state = self._load_state(upload_id)
            if state.lease_until < time.time():
                state.lease_token = uuid.uuid4().hex
                state.lease_until = time.time() + self.lease_seconds
                try:
                    self.save_state(upload_id, state)
                    return state
                except UploadBusy:
                    pass  # another replica won the race; look again
            if time.monotonic() >= deadline:
                raise UploadBusy("the upload is receiving another chunk; retry when it finishes",
                                 detail={"upload": upload_id})
            time.sleep(0.05)

    def renew_lease(self, upload_id: str, state: _State) -> None:
        """Extend this writer's lease when half of it is gone (UploadBusy if taken)."""
        if state.lease_token and state.lease_until - time.time() < self.lease_seconds / 2:
            state.lease_until = time.time() + self.lease_seconds
            self.save_state(upload_id, state)

    def _new_upload(self, metadata: Mapping[str, str] | None, *,
                    session: bool) -> tuple[str, _State]:
        upload_id = uuid.uuid4().hex
        state = _State(started_at=time.time(), metadata=dict(metadata or {}), session=session)
        if session:
            self.save_state(upload_id, state, create=True)
        return upload_id, state

    def new_writer(self) -> _S3Writer:
        # No state object until a first part is written: small blobs cost one PUT.
        upload_id, state = self._new_upload(None, session=False)
        return _S3Writer(self, upload_id, state, new_hasher(DigestAlgorithm.SHA256))

    def create_upload(self, metadata: Mapping[str, str] | None = None) -> UploadInfo:
        upload_id, state = self._new_upload(metadata, session=True)
        return UploadInfo(upload_id, 0, state.started_at, dict(state.metadata))

    def upload_info(self, upload_id: str) -> UploadInfo:
        state = self._load_state(upload_id)
        if not state.session:
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id})
        return UploadInfo(upload_id, state.size, state.started_at, dict(state.metadata),
                          state.updated_at or None)

    def append_upload(self, upload_id: str, offset: int | None = None) -> _S3Writer:
        self._upload_key(upload_id, "state.json")
        state = self._take_lease(upload_id)
        if not state.session:
            self.save_state(upload_id, self._released(state))
            raise UploadNotFound(f"no upload {upload_id}", detail={"upload": upload_id})
        if offset is not None and offset != state.size:
            self.save_state(upload_id, self._released(state))
            raise UploadOffsetMismatch(
                f"chunk starts at byte {offset} but the upload holds {state.size} bytes",
                upload_id=upload_id, size=state.size,
            )
        return _S3Writer(self, upload_id, state, self.cached_hasher(upload_id, state.size))

    @staticmethod
    def _released(state: _State) -> _State:
        state.lease_token, state.lease_until = None, 0.0
        return state

    def commit_upload(self, upload_id: str, expected_digest: str) -> BlobInfo:
        return self.append_upload(upload_id).commit(expected_digest)

    def cancel_upload(self, upload_id: str) -> None:
        state = self._load_state(upload_id)
        self.discard_upload(upload_id, state)

    def list_uploads(self) -> Iterator[UploadInfo]:
        base = f"{self.prefix}uploads/"
        for obj in self._list(base):
            upload_id, _, name = obj["Key"][len(base):].partition("/")
            if name != "state.json" or not _UPLOAD_ID_RE.match(upload_id):
                continue
            with contextlib.suppress(UploadNotFound):
                state = self._load_state(upload_id)
                yield UploadInfo(upload_id, state.size, state.started_at, dict(state.metadata),
                                 state.updated_at or None)

    # -- helpers for _S3Writer -----------------------------------------------------

    def read_tail(self, upload_id: str, state: _State) -> bytes:
        if not state.tail:
            return b""
        key = self._upload_key(upload_id, state.tail)
        try:
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "read an upload's tail") from exc
        return data

    def put_upload_object(self, upload_id: str, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._upload_key(upload_id, name),
                                   Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "write an upload's tail") from exc

    def delete_upload_object(self, upload_id: str, name: str) -> None:
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.delete_object(Bucket=self.bucket, Key=self._upload_key(upload_id, name))

    def start_multipart(self, upload_id: str) -> str:
        try:
            created = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self._upload_key(upload_id, "data"))
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "start a multipart upload") from exc
        return str(created["UploadId"])

    def upload_part(self, upload_id: str, mpu: str, number: int, data: bytes) -> str:
        try:
            part = self.client.upload_part(
                Bucket=self.bucket, Key=self._upload_key(upload_id, "data"), UploadId=mpu,
                PartNumber=number, Body=data,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "upload a part") from exc
        return str(part["ETag"])

    def publish(self, upload_id: str, state: _State, new_parts: list[dict[str, Any]],
                rest: bytes, hasher: Hasher | None, expected_digest: str | None) -> BlobInfo:
        """Verify the session's content and store it at its content address."""
        expected = parse_digest(expected_digest) if expected_digest else None
        algorithm = expected.algorithm if expected else DigestAlgorithm.SHA256
        parts = state.parts + new_parts
        if not parts:  # everything is in memory (< one part): hash and PUT it
            digest = self._verified(expected, new_hasher(algorithm), rest)
            self._put_blob(digest, rest)
            return BlobInfo(str(digest), len(rest))
        assert state.mpu is not None
        if rest:
            number = len(parts) + 1
            parts.append({"PartNumber": number, "ETag": self.upload_part(
                upload_id, state.mpu, number, rest), "size": len(rest)})
        size = sum(p["size"] for p in parts)
        data_key = self._upload_key(upload_id, "data")
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=data_key, UploadId=state.mpu,
                MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                           for p in parts]},
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "complete a multipart upload") from exc
        state.mpu = None
        if hasher is None or algorithm is not DigestAlgorithm.SHA256:
            hasher = self._rehash(data_key, algorithm)  # the verified re-read
        digest = self._verified(expected, hasher, b"")
        target = self.blob_key(digest)
        if self._head(target) is None:
            source = {"Bucket": self.bucket, "Key": data_key}
            try:
                if size <= MAX_COPY_OBJECT:
                    self.client.copy_object(Bucket=self.bucket, Key=target, CopySource=source)
                else:  # a multipart copy, done by boto3's transfer manager
                    self.client.copy(source, self.bucket, target)
            except (ClientError, BotoCoreError) as exc:
                raise _unavailable(exc, "publish a blob") from exc
        return BlobInfo(str(digest), size)

    @staticmethod
    def _verified(expected: Digest | None, hasher: Hasher, data: bytes) -> Digest:
        if data:
            hasher.update(data)
        actual = hasher.hexdigest()
        if expected is None:
            return Digest(DigestAlgorithm.SHA256, actual)
        if actual != expected.encoded:
            raise ContentDigestMismatch(str(expected), f"{expected.algorithm}:{actual}")
        return expected

    def _rehash(self, key: str, algorithm: DigestAlgorithm) -> Hasher:
        hasher = new_hasher(algorithm)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            while chunk := body.read(READ_CHUNK):
                hasher.update(chunk)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc, "re-read an upload") from exc
        return hasher

    def _put_blob(self, digest: Digest, data: bytes) -> None:
        key = self.blob_key(digest)
        if self._head(key) is not None:
            return  # same digest, same bytes: the existing blob stays
        try:
            # Create-only: a concurrent push of the same blob wins, never overwrites.
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return  # written meanwhile by another request with the same digest
            raise _unavailable(exc, "store a blob") from exc
        except BotoCoreError as exc:
            raise _unavailable(exc, "store a blob") from exc

    def discard_upload(self, upload_id: str, state: _State) -> None:
        """Delete every object of the session and abort its multipart upload."""
        with self._lock:
            self._hashers.pop(upload_id, None)
        if not state.session and not state.etag:
            return  # a single-stream write that stayed in memory: nothing was stored
        with contextlib.suppress(ClientError, BotoCoreError):
            if state.mpu:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._upload_key(upload_id, "data"),
                    UploadId=state.mpu)
        keys = [o["Key"] for o in self._list(self._upload_key(upload_id, ""))]
        # state.json last: while it exists, gc and cancel can still find the session.
        keys.sort(key=lambda k: k.endswith("/state.json"))
        for key in keys:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.delete_object(Bucket=self.bucket, Key=key)

    def cached_hasher(self, upload_id: str, size: int) -> Hasher | None:
        """The running sha256 when this process wrote the session up to ``size``."""
        if size == 0:
            return new_hasher(DigestAlgorithm.SHA256)
        with self._lock:
            cached = self._hashers.get(upload_id)
        return cached[1].copy() if cached is not None and cached[0] == size else None

    def remember_hasher(self, upload_id: str, size: int, hasher: Hasher) -> None:
        with self._lock:
            self._hashers[upload_id] = (size, hasher.copy())
            self._hashers.move_to_end(upload_id)
            while len(self._hashers) > _HASH_CACHE_LIMIT:
                self._hashers.popitem(last=False)
