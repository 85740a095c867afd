"""Drivers under test: every BlobStore driver runs the same conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wasmhub.storage import BlobStore, FilesystemBlobStore

DRIVERS = ["filesystem"]


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


@pytest.fixture(params=DRIVERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """A fresh store; the test fails if it leaves an upload or a temporary file behind."""
    root = tmp_path / "store"
    driver: BlobStore = FilesystemBlobStore(root)
    yield driver
    leftovers = [u.upload_id for u in driver.list_uploads()]
    assert leftovers == [], f"driver left uploads behind: {leftovers}"
    assert _stray_files(root) == []
