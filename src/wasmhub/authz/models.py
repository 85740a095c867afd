"""Authorization tables: per-repository policy, API tokens, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base
from wasmhub.registry.models import utcnow


class RepositoryPolicy(Base):
    """Settings of one repository (a plugin), keyed by name so they can be set before the
    first push. No row: public, tags mutable."""

    __tablename__ = "authz_repository_policies"

    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    tag_immutable: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A personal or organization API token. The secret is stored as its SHA-256 (tokens
    are 256-bit random, so a slow hash adds nothing); ``public_id`` finds the row."""

    __tablename__ = "authz_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts_users.id", ondelete="CASCADE", name="fk_authz_api_tokens_user"),
        index=True,
    )
    namespace_id: Mapped[int | None] = mapped_column(
        ForeignKey("orgs_namespaces.id", ondelete="CASCADE",
                   name="fk_authz_api_tokens_namespace"), index=True,
    )
    created_by: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    resources: Mapped[list[str]] = mapped_column(JSON)  # "ns" or "ns/repo"; [] = all
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    __tablename__ = "authz_audit_events"
    __table_args__ = (Index("ix_authz_audit_events_namespace_at", "namespace", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # success / failure / denied
    actor: Mapped[str] = mapped_column(String(100))
    namespace: Mapped[str | None] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(400), default="")
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
