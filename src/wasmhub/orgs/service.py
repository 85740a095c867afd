"""``OrgService``: organizations, members, invitations, teams and their grants, and the
visibility of namespaces and repositories. Every change is checked with
:meth:`AccessService.require` and written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from wasmhub.accounts.models import User
from wasmhub.accounts.service import check_username
from wasmhub.authz.access import WHOLE_NAMESPACE, AccessService, namespace_of
from wasmhub.authz.audit import AuditAction, AuditLog
from wasmhub.authz.models import RepositoryPolicy
from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.db.engine import Database
from wasmhub.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from wasmhub.oci.names import is_valid_name
from wasmhub.orgs.models import Invitation, Membership, Namespace, Team, TeamGrant, TeamMember

ORG_ROLES = ("owner", "maintainer", "member")
TEAM_PERMISSIONS = ("read", "write", "admin")


@dataclass(frozen=True)
class TeamInfo:
    name: str
    members: tuple[str, ...]
    grants: dict[str, str]  # repository or "*" → read/write/admin


@dataclass(frozen=True)
class OrgInfo:
    name: str
    private: bool
    members: dict[str, str]  # username → role
    teams: tuple[TeamInfo, ...]
    invitations: dict[str, str]  # username → role


def _role(role: str) -> str:
    if role not in ORG_ROLES:
        raise InputError("a role is owner, maintainer or member")
    return role


class OrgService:
    def __init__(self, database: Database, access: AccessService, audit: AuditLog) -> None:
        self.db = database
        self.access = access
        self.audit = audit

    def _person(self, principal: Principal) -> int:
        if principal.user_id is None or not principal.is_person:
            raise AuthenticationError("sign in first (tokens cannot do this)")
        return principal.user_id

    @staticmethod
    def _org_id(session: object, name: str) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        ns_id = session.scalar(select(Namespace.id).where(
            Namespace.name == name, Namespace.kind == "org"))
        if ns_id is None:
            raise NotFoundError(f"no organization {name!r}")
        return ns_id

    @staticmethod
    def _user_id(session: object, username: str) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        user_id = session.scalar(select(User.id).where(User.username == username.lower()))
        if user_id is None:
            raise NotFoundError(f"no user {username!r}")
        return user_id

    # -- organizations ----------------------------------------------------------------

    def create(self, principal: Principal, name: str) -> OrgInfo:
        user_id = self._person(principal)
        org = check_username(name)
        with self.db.session() as session:
            if session.scalar(select(func.count()).select_from(Namespace)
                              .where(Namespace.name == org)):
                raise ConflictError(f"the namespace {org!r} is taken")
            ns = Namespace(name=org, kind="org", owner_user_id=None, private=False)
            session.add(ns)
            session.flush()
            session.add(Membership(namespace_id=ns.id, user_id=user_id, role="owner"))
        self.audit.record(AuditAction.ORG_CREATE, principal, namespace=org, target=org)
        return self.info(principal, org)

    def info(self, principal: Principal, name: str) -> OrgInfo:
        self.access.require(principal, Permission.REPOSITORY_READ, namespace=name,
                            what=f"organization {name}")
        with self.db.session() as session:
            ns_id = self._org_id(session, name)
            private = bool(session.scalar(select(Namespace.private)
                                          .where(Namespace.id == ns_id)))
            members = dict(session.execute(
                select(User.username, Membership.role).join(User, User.id == Membership.user_id)
                .where(Membership.namespace_id == ns_id).order_by(User.username)).all())
            invitations = dict(session.execute(
                select(User.username, Invitation.role).join(User, User.id == Invitation.user_id)
                .where(Invitation.namespace_id == ns_id).order_by(User.username)).all())
            teams = []
            for team in session.scalars(select(Team).where(Team.namespace_id == ns_id)
                                        .order_by(Team.name)):
                names = tuple(session.scalars(
                    select(User.username).join(TeamMember, TeamMember.user_id == User.id)
                    .where(TeamMember.team_id == team.id).order_by(User.username)))
                grants = dict(session.execute(
                    select(TeamGrant.repository, TeamGrant.permission)
                    .where(TeamGrant.team_id == team.id)).all())
                teams.append(TeamInfo(team.name, names, grants))
        return OrgInfo(name, private, members, tuple(teams), invitations)

    def organizations_of(self, principal: Principal) -> dict[str, str]:
        if principal.user_id is None:
            return {}
        with self.db.session() as session:
            return dict(session.execute(
                select(Namespace.name, Membership.role)
                .join(Membership, Membership.namespace_id == Namespace.id)
                .where(Membership.user_id == principal.user_id).order_by(Namespace.name)).all())

    # -- members and invitations ----------------------------------------------------

    def invite(self, principal: Principal, org: str, username: str, role: str = "member"
               ) -> None:
        self.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                            what=f"organization {org}")
        with self.db.session() as session:
            ns_id = self._org_id(session, org)
            user_id = self._user_id(session, username)
            if session.get(Membership, (ns_id, user_id)) is not None:
                raise ConflictError(f"{username} is already a member of {org}")
            session.execute(delete(Invitation).where(
                Invitation.namespace_id == ns_id, Invitation.user_id == user_id))
            session.add(Invitation(namespace_id=ns_id, user_id=user_id, role=_role(role),
                                   invited_by=principal.actor[:64]))
        self.audit.record(AuditAction.INVITATION, principal, namespace=org, target=username,
                          role=role, state="sent")

    def invitations_of(self, principal: Principal) -> dict[str, str]:
        if principal.user_id is None:
            return {}
        with self.db.session() as session:
            return dict(session.execute(
                select(Namespace.name, Invitation.role)
                .join(Invitation, Invitation.namespace_id == Namespace.id)
                .where(Invitation.user_id == principal.user_id)).all())

    def answer_invitation(self, principal: Principal, org: str, accept: bool) -> None:
        user_id = self._person(principal)
        with self.db.session() as session:
            ns_id = self._org_id(session, org)
            invitation = session.scalar(select(Invitation).where(
                Invitation.namespace_id == ns_id, Invitation.user_id == user_id))
            if invitation is None:
                raise NotFoundError(f"you have no invitation to {org}")
            if accept:
                session.add(Membership(namespace_id=ns_id, user_id=user_id,
                                       role=invitation.role))
            session.delete(invitation)
        self.audit.record(AuditAction.MEMBERSHIP if accept else AuditAction.INVITATION,
                          principal, namespace=org, target=principal.username or "",
                          state="accepted" if accept else "declined")

    def set_role(self, principal: Principal, org: str, username: str, role: str | None
                 ) -> None:
        """Change a member's role; ``None`` removes them. The last owner stays."""
        self.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                            what=f"organization {org}")
        with self.db.session() as session:
            ns_id = self._org_id(session, org)
            user_id = self._user_id(session, username)
            member = session.get(Membership, (ns_id, user_id))
            if member is None:
                raise NotFoundError(f"{username} is not a member of {org}")
            owners = session.scalar(select(func.count()).select_from(Membership).where(
                Membership.namespace_id == ns_id, Membership.role == "owner")) or 0
            if member.role == "owner" and role != "owner" and owners <= 1:
                raise ConflictError(f"{org} needs at least one owner")
            if role is None:
                session.delete(member)
                team_ids = select(Team.id).where(Team.namespace_id == ns_id)
                session.execute(delete(TeamMember).where(
                    TeamMember.user_id == user_id, TeamMember.team_id.in_(team_ids)))
            else:
                member.role = _role(role)
        self.audit.record(AuditAction.MEMBERSHIP, principal, namespace=org, target=username,
                          role=role or "removed")

    # -- teams --------------------------------------------------------------------------

    def create_team(self, principal: Principal, org: str, team: str) -> None:
        self.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                            what=f"organization {org}")
        name = check_username(team)
        with self.db.session() as session:
            ns_id = self._org_id(session, org)
            if session.scalar(select(Team.id).where(Team.namespace_id == ns_id,
                                                    Team.name == name)) is not None:
                raise ConflictError(f"{org} already has a team {name!r}")
            session.add(Team(namespace_id=ns_id, name=name))
        self.audit.record(AuditAction.TEAM, principal, namespace=org, target=name,
                          change="created")

    def _team(self, session: object, org: str, team: str) -> tuple[int, int]:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        ns_id = self._org_id(session, org)
        team_id = session.scalar(select(Team.id).where(Team.namespace_id == ns_id,
                                                       Team.name == team.lower()))
        if team_id is None:
            raise NotFoundError(f"{org} has no team {team!r}")
        return ns_id, team_id

    def set_team_member(self, principal: Principal, org: str, team: str, username: str,
                        member: bool = True) -> None:
        self.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                            what=f"organization {org}")
        with self.db.session() as session:
            ns_id, team_id = self._team(session, org, team)
            user_id = self._user_id(session, username)
            if session.get(Membership, (ns_id, user_id)) is None:
                raise InputError(f"{username} must be a member of {org} first")
            existing = session.get(TeamMember, (team_id, user_id))
            if member and existing is None:
                session.add(TeamMember(team_id=team_id, user_id=user_id))
            elif not member and existing is not None:
                session.delete(existing)
        self.audit.record(AuditAction.TEAM, principal, namespace=org, target=team,
                          member=username, change="added" if member else "removed")

    def grant(self, principal: Principal, org: str, team: str, repository: str,
              permission: str | None) -> None:
        """Give ``team`` read/write/admin on ``repository`` (or ``*``); None revokes."""
        self.access.require(principal, Permission.NAMESPACE_MEMBERS, namespace=org,
                            what=f"organization {org}")
        if permission is not None and permission not in TEAM_PERMISSIONS:
            raise InputError("a team permission is read, write or admin")
        target = repository.strip()
        if target != WHOLE_NAMESPACE and (not is_valid_name(target)
                                          or namespace_of(target) != org):
            raise InputError(f"grant a repository of {org} (e.g. {org}/name) or *")
        with self.db.session() as session:
            _, team_id = self._team(session, org, team)
            session.execute(delete(TeamGrant).where(TeamGrant.team_id == team_id,
                                                    TeamGrant.repository == target))
            if permission is not None:
                session.add(TeamGrant(team_id=team_id, repository=target,
                                      permission=permission))
        self.audit.record(AuditAction.PERMISSION, principal, namespace=org, target=target,
                          team=team, permission=permission or "revoked")

    # -- visibility and repository settings ----------------------------------------------

    def set_namespace_private(self, principal: Principal, namespace: str, private: bool
                              ) -> None:
        self.access.require(principal, Permission.NAMESPACE_VISIBILITY, namespace=namespace)
        with self.db.session() as session:
            ns = session.scalar(select(Namespace).where(Namespace.name == namespace))
            if ns is None:
                raise NotFoundError(f"{namespace} was not found")
            ns.private = private
        self.audit.record(AuditAction.VISIBILITY, principal, namespace=namespace,
                          target=namespace, private=private)

    def set_repository_policy(self, principal: Principal, repository: str, *,
                              private: bool | None = None, tag_immutable: bool | None = None
                              ) -> RepositoryPolicy:
        if not is_valid_name(repository) or "/" not in repository:
            raise InputError(f"{repository!r} is not a namespaced repository name "
                             "(single-component names follow the library namespace)")
        self.access.require(principal, Permission.REPOSITORY_CONFIGURE, repository=repository)
        with self.db.session() as session:
            policy = session.get(RepositoryPolicy, repository)
            if policy is None:
                policy = RepositoryPolicy(repository=repository, private=False,
                                          tag_immutable=False)
                session.add(policy)
            if private is not None:
                policy.private = private
            if tag_immutable is not None:
                policy.tag_immutable = tag_immutable
            session.flush()
            result = RepositoryPolicy(repository=repository, private=policy.private,
                                      tag_immutable=policy.tag_immutable)
        ns = namespace_of(repository)
        if private is not None:
            self.audit.record(AuditAction.VISIBILITY, principal, namespace=ns,
                              target=repository, private=private)
        if tag_immutable is not None:
            self.audit.record(AuditAction.SETTINGS, principal, namespace=ns,
                              target=repository, tag_immutable=tag_immutable)
        return result

    def repository_policy(self, repository: str) -> RepositoryPolicy:
        with self.db.session() as session:
            policy = session.get(RepositoryPolicy, repository)
            return RepositoryPolicy(repository=repository,
                                    private=bool(policy and policy.private),
                                    tag_immutable=bool(policy and policy.tag_immutable))
