"""Drivers under test: every BlobStore driver runs the same conformance suite.

The S3 driver runs against moto's S3 server (an emulator), one fresh bucket per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3 import S3Endpoint
from wasmhub.storage import BlobStore, FilesystemBlobStore
from wasmhub.storage.s3 import MIN_PART_SIZE, S3BlobStore

DRIVERS = ["filesystem", "s3"]


def _stray_files(root: Path) -> list[str]:
    """Files the filesystem layout does not allow once all uploads are finished."""
    stray = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if path.is_dir():
            continue
        if not (len(rel) == 4 and rel[0] == "blobs" and rel[2] == rel[3][:2]):
            stray.append("/".join(rel))
    return stray


def _stray_objects(client: Any, bucket: str) -> list[str]:
    """Objects and multipart uploads the S3 layout does not allow once uploads finish."""
    stray = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if not (len(parts) == 5 and parts[:2] == ["p", "blobs"] and parts[3] == parts[4][:2]):
                stray.append(obj["Key"])
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return stray + [f"multipart upload {u['Key']}" for u in uploads]


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """A fresh store; the test fails if it leaves an upload or a temporary object behind."""
    if request.param == "s3":
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket = endpoint.new_bucket()
        # The smallest part S3 allows, so the suite's 3 MiB blobs still span parts
        # when chunks add up (and single-part paths are covered by small blobs).
        s3 = S3BlobStore(bucket, prefix="p", part_size=MIN_PART_SIZE, client=endpoint.client())
        yield s3
        assert [u.upload_id for u in s3.list_uploads()] == []
        assert _stray_objects(s3.client, bucket) == []
        return
    root = tmp_path / "store"
    driver = FilesystemBlobStore(root)
    yield driver
    leftovers = [u.upload_id for u in driver.list_uploads()]
    assert leftovers == [], f"driver left uploads behind: {leftovers}"
    assert _stray_files(root) == []
