"""S3-driver specifics beyond the conformance suite: the upload lease between replicas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.s3 import S3Endpoint
from wasmhub.oci.digest import sha256_digest
from wasmhub.storage.errors import UploadBusy
from wasmhub.storage.s3 import MIN_PART_SIZE, S3BlobStore


@pytest.fixture
def replicas(s3_endpoint: S3Endpoint) -> Iterator[tuple[S3BlobStore, S3BlobStore]]:
    bucket = s3_endpoint.new_bucket()
    a, b = (S3BlobStore(bucket, part_size=MIN_PART_SIZE, client=s3_endpoint.client())
            for _ in range(2))
    yield a, b
    assert list(a.list_uploads()) == []


def test_a_dead_writers_lease_expires_and_its_late_close_changes_nothing(
    replicas: tuple[S3BlobStore, S3BlobStore],
) -> None:
    a, b = replicas
    a.lease_seconds = 1.0  # a replica that stops answering mid-chunk
    b.lock_wait_seconds = 0.05
    session = a.create_upload()
    stalled = a.append_upload(session.upload_id, offset=0)
    stalled.write(b"never acknowledged")
    with pytest.raises(UploadBusy):
        b.append_upload(session.upload_id)
    b.lock_wait_seconds = 30.0  # waits for the lease to run out, then takes over
    writer = b.append_upload(session.upload_id, offset=0)
    writer.write(b"the real chunk")
    writer.close()
    with pytest.raises(UploadBusy):
        stalled.close()  # woke up too late: its state write is refused
    assert b.upload_info(session.upload_id).size == len(b"the real chunk")
    info = b.commit_upload(session.upload_id, sha256_digest(b"the real chunk"))
    with a.open(info.digest) as f:
        assert f.read() == b"the real chunk"
    a.delete(info.digest)
