"""Trust tables: keys registered per namespace, policies, their audit log, and the index of
verified signatures the catalog shows.

``trust_keys`` and ``trust_policies`` are user state (made by namespace owners, audited in
``trust_audit``). ``trust_verified_signatures`` is derived: which key of the repository's
namespace verifies a signature of which manifest digest, recomputed by
``wasmhub.signing.index`` when signatures are pushed or deleted and when keys change;
``wasmhub catalog reindex`` rebuilds it. Migration ``0003_signing_trust``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base

DEFAULT_POLICY_NAMESPACE = "*"  # the hub-wide default row of trust_policies


def utcnow() -> datetime:
    return datetime.now(UTC)


class TrustKeyRow(Base):
    __tablename__ = "trust_keys"
    __table_args__ = (UniqueConstraint("namespace", "name"),
                      UniqueConstraint("namespace", "fingerprint"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(80))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class TrustPolicyRow(Base):
    __tablename__ = "trust_policies"

    namespace: Mapped[str] = mapped_column(String(128), primary_key=True)
    mode: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class TrustAuditRow(Base):
    __tablename__ = "trust_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    target: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class VerifiedSignatureRow(Base):
    __tablename__ = "trust_verified_signatures"
    __table_args__ = (
        UniqueConstraint("repository", "digest", "fingerprint"),
        Index("ix_trust_verified_signatures_repository_digest", "repository", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(140))
    namespace: Mapped[str] = mapped_column(String(128))
    key_name: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(80))
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
