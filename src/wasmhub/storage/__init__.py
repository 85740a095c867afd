"""Blob bytes behind the :class:`BlobStore` protocol: filesystem and S3 drivers.

The registry is the only caller; it keeps metadata in the database and the bytes here.
``wasmhub.storage.factory.open_store`` picks the driver the settings name.
"""

from __future__ import annotations

from wasmhub.storage.base import BlobInfo, BlobStore, BlobWriter, UploadInfo, put_bytes
from wasmhub.storage.filesystem import FilesystemBlobStore

__all__ = [
    "BlobInfo", "BlobStore", "BlobWriter", "FilesystemBlobStore", "UploadInfo", "put_bytes",
]
