"""The one permission check of the hub: :meth:`AccessService.check` (and ``require``).

The registry, the REST API and the web UI all ask it. It gathers the facts about a
resource (who owns the namespace, whether it or the repository is private), computes the
principal's :class:`~wasmhub.authz.permissions.Role` set there and looks the permission
up in the matrix; an API token then narrows the result to its scopes and resources, and
a registry JWT answers from the access its token endpoint granted.

Visibility: whoever may not read a private resource gets *not found* (404), never
*forbidden*, so private names do not leak; 403 is only for people who can see a thing
but may not change it. :meth:`read_scope` gives the same answer as a SQL condition for
listings (search, facets, ``_catalog``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, text, true
from sqlalchemy.orm import Session

from wasmhub.authz.models import RepositoryPolicy
from wasmhub.authz.permissions import (
    ACTION_PERMISSIONS,
    Permission,
    RegistryAction,
    Role,
    permitted,
)
from wasmhub.authz.principal import Principal
from wasmhub.db.engine import Database
from wasmhub.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from wasmhub.orgs.models import Membership, Namespace, Team, TeamGrant, TeamMember
from wasmhub.registry.models import Repository

TEAM_ROLES = {"read": Role.TEAM_READ, "write": Role.TEAM_WRITE, "admin": Role.TEAM_ADMIN}
ORG_ROLES = {"owner": Role.OWNER, "maintainer": Role.MAINTAINER, "member": Role.MEMBER}
WHOLE_NAMESPACE = "*"

# The anonymous fast path: one statement, three scalar subqueries (SQLite, event loop).
_PUBLIC_FACTS_SQL = (
    "SELECT (SELECT private FROM orgs_namespaces WHERE name = ?), "
    "(SELECT private FROM authz_repository_policies WHERE repository = ?), "
    "(SELECT 1 FROM registry_repositories WHERE name = ?)"
)
# The same statement for any database (a worker thread, one round trip).
_PUBLIC_FACTS = text(
    "SELECT (SELECT private FROM orgs_namespaces WHERE name = :namespace), "
    "(SELECT private FROM authz_repository_policies WHERE repository = :repository), "
    "(SELECT 1 FROM registry_repositories WHERE name = :repository)"
)


LIBRARY = "library"  # the catalog's namespace of single-component repositories


def namespace_of(repository: str) -> str:
    """The namespace owning ``repository``: its first component, or ``library`` for a
    single-component name (as the catalog lists it, docs/api.md)."""
    head, sep, _ = repository.partition("/")
    return head if sep else LIBRARY


@dataclass(frozen=True)
class Facts:
    """What the check needs to know about one namespace (and maybe one repository)."""

    namespace: str
    repository: str | None
    owned: bool  # a user or organization owns the namespace
    private: bool  # the namespace or the repository is private
    repository_exists: bool

    @property
    def public(self) -> bool:
        return not self.private


@dataclass(frozen=True)
class ReadScope:
    """Private things a principal may read, for listing queries."""

    everything: bool
    namespaces: frozenset[str]
    repositories: frozenset[str]

    def condition(self, namespace_col: Any, repository_col: Any) -> ColumnElement[bool]:
        """SQL: the row (by its namespace and repository columns) is visible."""
        if self.everything:
            return true()
        hidden = or_(
            namespace_col.in_(select(Namespace.name).where(Namespace.private.is_(True))),
            repository_col.in_(
                select(RepositoryPolicy.repository).where(RepositoryPolicy.private.is_(True))
            ),
        )
        allowed: list[ColumnElement[bool]] = [~hidden]
        if self.namespaces:
            allowed.append(namespace_col.in_(sorted(self.namespaces)))
        if self.repositories:
            allowed.append(repository_col.in_(sorted(self.repositories)))
        return or_(*allowed) if len(allowed) > 1 else allowed[0]


    def repository_condition(self, name_col: Any) -> ColumnElement[bool]:
        """SQL: a repository (by its name column alone) is visible."""
        if self.everything:
            return true()
        in_private_ns = exists(select(Namespace.id).where(
            Namespace.private.is_(True),
            or_(func.substr(name_col, 1, func.length(Namespace.name) + 1)
                == Namespace.name + "/",
                and_(Namespace.name == LIBRARY, ~name_col.contains("/")))))
        private_repo = name_col.in_(
            select(RepositoryPolicy.repository).where(RepositoryPolicy.private.is_(True)))
        allowed: list[ColumnElement[bool]] = [~or_(in_private_ns, private_repo)]
        for ns in sorted(self.namespaces):
            allowed.append(name_col.startswith(ns + "/", autoescape=True))
            if ns == LIBRARY:
                allowed.append(~name_col.contains("/"))
        if self.repositories:
            allowed.append(name_col.in_(sorted(self.repositories)))
        return or_(*allowed) if len(allowed) > 1 else allowed[0]


NOTHING_PRIVATE = ReadScope(False, frozenset(), frozenset())


class AccessService:
    def __init__(self, database: Database, open_namespaces: bool = False) -> None:
        self.db = database
        self.open_namespaces = open_namespaces

    # -- facts and roles -------------------------------------------------------------

    def facts(self, session: Session, namespace: str, repository: str | None) -> Facts:
        ns = session.execute(
            select(Namespace.id, Namespace.private).where(Namespace.name == namespace)
        ).first()
        repo_private = False
        exists = False
        if repository is not None:
            repo_private = bool(session.scalar(
                select(RepositoryPolicy.private).where(RepositoryPolicy.repository == repository)
            ))
            exists = session.scalar(
                select(Repository.id).where(Repository.name == repository)
            ) is not None
        return Facts(namespace, repository, ns is not None,
                     bool(ns and ns[1]) or repo_private, exists)

    def public_facts_nowait(self, repository: str) -> Facts | None:
        """:meth:`facts` without blocking the event loop (SQLite only; else None)."""
        namespace = namespace_of(repository)
        rows = self.db.read_nowait(_PUBLIC_FACTS_SQL, (namespace, repository, repository))
        if not rows:
            return None
        return self._public_facts(namespace, repository, rows[0])

    def public_facts(self, repository: str) -> Facts:
        """:meth:`facts` of a repository in one statement outside a transaction (the
        registry gate's check of every anonymous pull, in a worker thread)."""
        namespace = namespace_of(repository)
        rows = self.db.read(_PUBLIC_FACTS, {"namespace": namespace, "repository": repository})
        return self._public_facts(namespace, repository, rows[0])

    @staticmethod
    def _public_facts(namespace: str, repository: str, row: Any) -> Facts:
        ns_private, repo_private, exists = row
        return Facts(namespace, repository, ns_private is not None,
                     bool(ns_private) or bool(repo_private), exists is not None)

    def relationship_roles(self, session: Session | None, principal: Principal, facts: Facts
                           ) -> set[Role]:
        """Roles that do not depend on visibility: ownership, membership, teams, admin."""
        roles: set[Role] = set()
        if self.open_namespaces and not facts.owned:
            roles.add(Role.OPEN_NAMESPACE)
        token_ns = principal.token.namespace if principal.token else None
        if token_ns is not None:
            # An organization token acts for the organization, in its namespace only.
            if token_ns == facts.namespace:
                roles.add(Role.OWNER)
            return roles
        if principal.user_id is None or session is None:
            return roles
        if principal.is_site_admin:
            roles.add(Role.SITE_ADMIN)
        ns_id = session.scalar(select(Namespace.id).where(Namespace.name == facts.namespace))
        if ns_id is None:
            return roles
        owner = session.scalar(select(Namespace.owner_user_id).where(Namespace.id == ns_id))
        if owner == principal.user_id:
            roles.add(Role.OWNER)
        role = session.scalar(select(Membership.role).where(
            Membership.namespace_id == ns_id, Membership.user_id == principal.user_id))
        if role in ORG_ROLES:
            roles.add(ORG_ROLES[role])
        targets = [WHOLE_NAMESPACE] + ([facts.repository] if facts.repository else [])
        grants = session.scalars(
            select(TeamGrant.permission)
            .join(Team, Team.id == TeamGrant.team_id)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .where(Team.namespace_id == ns_id, TeamMember.user_id == principal.user_id,
                   TeamGrant.repository.in_(targets))
        )
        roles.update(TEAM_ROLES[g] for g in grants if g in TEAM_ROLES)
        return roles

    def roles(self, session: Session | None, principal: Principal, facts: Facts
              ) -> frozenset[Role]:
        """All of ``principal``'s roles on the resource (``session`` may be None for
        anonymous principals: they need no database beyond the facts)."""
        roles = self.relationship_roles(session, principal, facts)
        if facts.public:
            roles.add(Role.PUBLIC)
            if principal.is_person:
                roles.add(Role.SIGNED_IN)
        return frozenset(roles)

    # -- the check ----------------------------------------------------------------------

    def decide(self, principal: Principal, permission: Permission, facts: Facts,
               roles: frozenset[Role]) -> bool:
        """Pure: the matrix, then the token's and the registry JWT's narrowing."""
        if principal.registry_access is not None:
            action = next((a for a, p in ACTION_PERMISSIONS.items() if p is permission), None)
            granted = principal.registry_access.get(facts.repository or "", frozenset())
            return action is not None and action in granted
        if not permitted(roles, permission):
            return False
        token = principal.token
        if token is not None:
            return permission in token.permissions and token.covers(
                facts.repository, facts.namespace)
        return True

    def check(self, principal: Principal, permission: Permission, *,
              repository: str | None = None, namespace: str | None = None,
              session: Session | None = None) -> bool:
        """Whether ``principal`` holds ``permission`` on the repository or namespace."""
        ns = namespace or namespace_of(repository or "")
        if session is None:
            with self.db.session() as own:
                return self.check(principal, permission, repository=repository,
                                  namespace=ns, session=own)
        facts = self.facts(session, ns, repository)
        return self.decide(principal, permission, facts, self.roles(session, principal, facts))

    def require(self, principal: Principal, permission: Permission, *,
                repository: str | None = None, namespace: str | None = None,
                what: str | None = None) -> None:
        """Raise unless allowed: 404 when the principal may not even read it (so private
        things stay invisible), 401 when signing in might help, else 403."""
        label = what or repository or namespace or "resource"
        with self.db.session() as session:
            ns = namespace or namespace_of(repository or "")
            facts = self.facts(session, ns, repository)
            roles = self.roles(session, principal, facts)
            if self.decide(principal, permission, facts, roles):
                return
            readable = self.decide(principal, Permission.REPOSITORY_READ, facts, roles)
        if not readable:
            raise NotFoundError(f"{label} was not found")
        if principal.is_anonymous:
            raise AuthenticationError(f"sign in to do that with {label}")
        raise PermissionDeniedError(f"you may not {permission.value} {label}")

    def registry_grant(self, principal: Principal, repository: str,
                       wanted: frozenset[RegistryAction]) -> frozenset[RegistryAction]:
        """The subset of ``wanted`` the token endpoint may put in a registry JWT."""
        with self.db.session() as session:
            facts = self.facts(session, namespace_of(repository), repository)
            roles = self.roles(session, principal, facts)
            return frozenset(a for a in wanted
                             if self.decide(principal, ACTION_PERMISSIONS[a], facts, roles))

    # -- listings -------------------------------------------------------------------------

    def read_scope(self, principal: Principal) -> ReadScope:
        """The private namespaces and repositories ``principal`` may read."""
        if principal.registry_access is not None:
            repos = frozenset(r for r, a in principal.registry_access.items()
                              if RegistryAction.PULL in a)
            return ReadScope(False, frozenset(), repos)
        token = principal.token
        if token is not None and Permission.REPOSITORY_READ not in token.permissions:
            return NOTHING_PRIVATE
        if token is not None and token.namespace is not None:
            return self._narrow(ReadScope(False, frozenset({token.namespace}), frozenset()),
                                token.resources)
        if principal.user_id is None:
            return NOTHING_PRIVATE
        if principal.is_site_admin and token is None:
            return ReadScope(True, frozenset(), frozenset())
        with self.db.session() as session:
            namespaces = set(session.scalars(
                select(Namespace.name).where(Namespace.owner_user_id == principal.user_id)))
            namespaces.update(session.scalars(
                select(Namespace.name).join(Membership, Membership.namespace_id == Namespace.id)
                .where(Membership.user_id == principal.user_id)))
            repositories: set[str] = set()
            rows = session.execute(
                select(Namespace.name, TeamGrant.repository)
                .join(Team, Team.namespace_id == Namespace.id)
                .join(TeamGrant, TeamGrant.team_id == Team.id)
                .join(TeamMember, and_(TeamMember.team_id == Team.id,
                                       TeamMember.user_id == principal.user_id))
            )
            for ns_name, repo in rows:
                if repo == WHOLE_NAMESPACE:
                    namespaces.add(ns_name)
                else:
                    repositories.add(repo)
        scope = ReadScope(False, frozenset(namespaces), frozenset(repositories))
        return self._narrow(scope, token.resources) if token is not None else scope

    @staticmethod
    def _narrow(scope: ReadScope, resources: tuple[str, ...]) -> ReadScope:
        if not resources:
            return scope
        namespaces = frozenset(n for n in scope.namespaces if n in resources)
        repos = {r for r in scope.repositories if r in resources or namespace_of(r) in resources}
        repos |= {r for r in resources if "/" in r and namespace_of(r) in scope.namespaces}
        return ReadScope(False, namespaces, frozenset(repos))


