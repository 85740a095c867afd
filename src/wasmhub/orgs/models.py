"""Namespace, organization, membership, team and invitation tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base
from wasmhub.registry.models import utcnow


def _fk(target: str, name: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE", name=name)


class Namespace(Base):
    """The first path segment of repository names, owned by a user or an organization."""

    __tablename__ = "orgs_namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "user" or "org"
    owner_user_id: Mapped[int | None] = mapped_column(
        _fk("accounts_users.id", "fk_orgs_namespaces_owner"), index=True
    )
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    __tablename__ = "orgs_memberships"

    namespace_id: Mapped[int] = mapped_column(
        _fk("orgs_namespaces.id", "fk_orgs_memberships_namespace"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        _fk("accounts_users.id", "fk_orgs_memberships_user"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # owner / maintainer / member
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Team(Base):
    __tablename__ = "orgs_teams"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        _fk("orgs_namespaces.id", "fk_orgs_teams_namespace"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TeamMember(Base):
    __tablename__ = "orgs_team_members"

    team_id: Mapped[int] = mapped_column(
        _fk("orgs_teams.id", "fk_orgs_team_members_team"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        _fk("accounts_users.id", "fk_orgs_team_members_user"), primary_key=True, index=True
    )


class TeamGrant(Base):
    """A team's permission (read / write / admin) on one repository, or on the whole
    namespace when ``repository`` is ``"*"``."""

    __tablename__ = "orgs_team_grants"

    team_id: Mapped[int] = mapped_column(
        _fk("orgs_teams.id", "fk_orgs_team_grants_team"), primary_key=True
    )
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    permission: Mapped[str] = mapped_column(String(8))


class Invitation(Base):
    __tablename__ = "orgs_invitations"
    __table_args__ = (UniqueConstraint("namespace_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        _fk("orgs_namespaces.id", "fk_orgs_invitations_namespace"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        _fk("accounts_users.id", "fk_orgs_invitations_user"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
