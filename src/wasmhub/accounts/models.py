"""Account tables: users and their web sessions (session ids are stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base
from wasmhub.registry.models import utcnow


class User(Base):
    __tablename__ = "accounts_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser. ``id`` is the SHA-256 of the cookie value, so a database
    leak does not hand out sessions; ``csrf_token`` is what its forms must echo."""

    __tablename__ = "accounts_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("accounts_users.id", ondelete="CASCADE", name="fk_accounts_sessions_user"),
        index=True,
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_addr: Mapped[str] = mapped_column(String(64), default="")


class SignupCode(Base):
    """A single-use code that lets one person sign up on an invite-only hub."""

    __tablename__ = "accounts_signup_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_by: Mapped[str | None] = mapped_column(String(64))
