"""The one place a storage driver is chosen: ``open_store(settings)``."""

from __future__ import annotations

from wasmhub.errors import ConfigError
from wasmhub.settings import Settings, StorageBackend
from wasmhub.storage.base import BlobStore
from wasmhub.storage.filesystem import FilesystemBlobStore


def open_store(settings: Settings) -> BlobStore:
    """The driver ``settings.storage`` names, configured from the other settings."""
    if settings.storage is StorageBackend.S3:
        if not settings.s3_bucket:
            raise ConfigError("storage is s3 but s3_bucket (WASMHUB_S3_BUCKET) is not set")
        from wasmhub.storage.s3 import S3BlobStore  # boto3 loads only when used

        return S3BlobStore(
            settings.s3_bucket, prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
            addressing_style=settings.s3_addressing_style, part_size=settings.s3_part_bytes,
        )
    return FilesystemBlobStore(settings.data_dir)
