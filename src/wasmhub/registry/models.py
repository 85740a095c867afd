"""Registry metadata tables: repositories, blobs and their links, manifests, tags, uploads.

The bytes live in the blob store (the source of truth); these rows index them for fast
lookups (HEAD, tag resolution, referrers) and record what references what, for
``MANIFEST_BLOB_UNKNOWN`` checks, cross-repository mounts and ``wasmhub gc``.
Manifest payloads are kept here too so a manifest GET costs one query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base

DIGEST_LENGTH = 140  # "sha512:" + 128 hex, with room to spare
MEDIA_TYPE_LENGTH = 255


def _fk(target: str, name: str) -> ForeignKey:
    # Explicit names: the convention's would pass PostgreSQL's 63-character limit.
    return ForeignKey(target, ondelete="CASCADE", name=name)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Repository(Base):
    __tablename__ = "registry_repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Blob(Base):
    """A verified blob in the store (one row per digest, shared by repositories)."""

    __tablename__ = "registry_blobs"

    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RepositoryBlob(Base):
    """A blob pushed to or mounted into a repository: the repository may serve it."""

    __tablename__ = "registry_repository_blobs"

    repository_id: Mapped[int] = mapped_column(
        _fk("registry_repositories.id", "fk_registry_repository_blobs_repository"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(
        _fk("registry_blobs.digest", "fk_registry_repository_blobs_blob"),
        primary_key=True, index=True,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Manifest(Base):
    __tablename__ = "registry_manifests"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index("ix_registry_manifests_subject", "repository_id", "subject_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repository_id: Mapped[int] = mapped_column(
        _fk("registry_repositories.id", "fk_registry_manifests_repository")
    )
    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), index=True)
    media_type: Mapped[str] = mapped_column(String(MEDIA_TYPE_LENGTH))
    size: Mapped[int] = mapped_column(BigInteger)
    artifact_type: Mapped[str | None] = mapped_column(String(MEDIA_TYPE_LENGTH))
    subject_digest: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH))
    annotations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tag(Base):
    __tablename__ = "registry_tags"

    repository_id: Mapped[int] = mapped_column(
        _fk("registry_repositories.id", "fk_registry_tags_repository"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    manifest_id: Mapped[int] = mapped_column(
        _fk("registry_manifests.id", "fk_registry_tags_manifest"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ManifestReference(Base):
    """A blob (config, layer) or child manifest (index entry) a manifest points to."""

    __tablename__ = "registry_manifest_references"

    manifest_id: Mapped[int] = mapped_column(
        _fk("registry_manifests.id", "fk_registry_manifest_references_manifest"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "blob" or "manifest"


class UploadSession(Base):
    """A resumable upload in progress (its bytes are in the blob store's uploads)."""

    __tablename__ = "registry_upload_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        _fk("registry_repositories.id", "fk_registry_upload_sessions_repository"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
