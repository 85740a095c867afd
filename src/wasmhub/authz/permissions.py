"""Permissions and roles as data: the one role → permission matrix of the hub (warehouse).

``Permission`` values follow ``<resource>:<action>``. ``Role`` names a relationship a
principal has with a namespace or repository; :data:`ROLE_PERMISSIONS` says what each
relationship allows. Nothing else in the code base decides who may do what:
:func:`wasmhub.authz.access.AccessService.check` computes a principal's roles on a
resource and asks :func:`permitted`. Keep the UI's role table (templates/account/roles.html)
and docs/operations.md in sync with this file.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """Everything a principal may be allowed to do (alphabetical)."""

    # The hub's own Kubernetes cluster (settings deploy_*): site administrators only.
    CLUSTER_APPLY = "cluster:apply"  # apply a plugin's resources from the web UI
    CLUSTER_READ = "cluster:read"  # see where plugins are installed (the Installed page)
    NAMESPACE_AUDIT = "namespace:audit"  # read the namespace's audit log
    NAMESPACE_MEMBERS = "namespace:members"  # members, teams, invitations, org tokens
    NAMESPACE_TRANSFER = "namespace:transfer"  # move a plugin out of (or into) it
    NAMESPACE_TRUST = "namespace:trust"  # register/revoke signing keys, set signature policy
    NAMESPACE_VISIBILITY = "namespace:visibility"  # make the whole namespace private/public
    REPOSITORY_CONFIGURE = "repository:configure"  # visibility, tag immutability
    REPOSITORY_DELETE = "repository:delete"  # delete manifests, tags, blobs
    REPOSITORY_PUSH = "repository:push"  # push blobs and manifests, create tags
    REPOSITORY_READ = "repository:read"  # pull; see it in pages, search, facets, catalog
    REPOSITORY_STAR = "repository:star"  # star (signed-in people only)
    REPOSITORY_TAG_MOVE = "repository:tag-move"  # point an existing tag elsewhere
    REPOSITORY_YANK = "repository:yank"  # deprecate / yank versions


class Role(StrEnum):
    """A principal's relationship with a resource (computed per request, never stored)."""

    PUBLIC = "public"  # anyone, signed in or not, on a public resource
    SIGNED_IN = "signed-in"  # a person (not a token) on a public resource
    OWNER = "owner"  # owns the user namespace, or an organization owner
    MAINTAINER = "maintainer"  # organization maintainer
    MEMBER = "member"  # organization member
    TEAM_ADMIN = "team-admin"  # a team granted admin on this repository / namespace
    TEAM_WRITE = "team-write"
    TEAM_READ = "team-read"
    SITE_ADMIN = "site-admin"  # the hub's administrators
    OPEN_NAMESPACE = "open-namespace"  # dev hubs only: nobody owns the namespace


P = Permission
_READ = {P.REPOSITORY_READ}
_WRITE = {*_READ, P.REPOSITORY_STAR, P.REPOSITORY_PUSH, P.REPOSITORY_TAG_MOVE, P.REPOSITORY_YANK}
_ADMIN = {*_WRITE, P.REPOSITORY_DELETE, P.REPOSITORY_CONFIGURE}
# The hub's cluster belongs to whoever runs the hub, not to a namespace's owners.
_CLUSTER = {P.CLUSTER_APPLY, P.CLUSTER_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Allowed: pull and see. Not: anything that writes, stars (needs a person).
    Role.PUBLIC: frozenset(_READ),
    # Allowed: pull, see, star. Not: writes.
    Role.SIGNED_IN: frozenset({*_READ, P.REPOSITORY_STAR}),
    # Allowed: everything in the namespace, including members, visibility, audit, transfer.
    # Not: the hub's cluster.
    Role.OWNER: frozenset(Permission) - _CLUSTER,
    # Allowed: every repository operation. Not: members, namespace visibility, audit,
    # transfer, trust (owners decide who is in, what leaves and whose signatures count).
    Role.MAINTAINER: frozenset(_ADMIN),
    # Allowed: read private repositories of the organization, star. Not: writes.
    Role.MEMBER: frozenset({*_READ, P.REPOSITORY_STAR}),
    # Team grants apply to the repositories (or the whole namespace) the team was given.
    Role.TEAM_ADMIN: frozenset(_ADMIN),
    Role.TEAM_WRITE: frozenset(_WRITE),
    Role.TEAM_READ: frozenset({*_READ, P.REPOSITORY_STAR}),
    # Allowed: everything, including the hub's cluster (cluster:read, cluster:apply).
    Role.SITE_ADMIN: frozenset(Permission),
    # Development hubs (``open_namespaces``): pull, push, move tags, delete where nobody
    # owns the namespace. Not: yank, configure, members (those need an owner).
    Role.OPEN_NAMESPACE: frozenset({*_READ, P.REPOSITORY_PUSH, P.REPOSITORY_TAG_MOVE,
                                    P.REPOSITORY_DELETE}),
}


class TokenScope(StrEnum):
    """What an API token may be used for; intersected with its owner's permissions."""

    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ADMIN = "admin"


SCOPE_PERMISSIONS: dict[TokenScope, frozenset[Permission]] = {
    TokenScope.PULL: frozenset(_READ),
    # A push needs HEAD/GET of what is already there, so push includes pull.
    TokenScope.PUSH: frozenset({*_READ, P.REPOSITORY_PUSH, P.REPOSITORY_TAG_MOVE}),
    TokenScope.DELETE: frozenset({P.REPOSITORY_DELETE}),
    TokenScope.ADMIN: frozenset({
        P.REPOSITORY_YANK, P.REPOSITORY_CONFIGURE, P.NAMESPACE_MEMBERS,
        P.NAMESPACE_VISIBILITY, P.NAMESPACE_AUDIT, P.NAMESPACE_TRANSFER, P.NAMESPACE_TRUST,
    }),
}


class RegistryAction(StrEnum):
    """Actions of the Docker token spec's ``repository:<name>:<actions>`` scope."""

    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"


ACTION_PERMISSIONS: dict[RegistryAction, Permission] = {
    RegistryAction.PULL: P.REPOSITORY_READ,
    RegistryAction.PUSH: P.REPOSITORY_PUSH,
    RegistryAction.DELETE: P.REPOSITORY_DELETE,
}


def permitted(roles: frozenset[Role] | set[Role], permission: Permission) -> bool:
    """Whether any of ``roles`` carries ``permission`` (the matrix lookup)."""
    return any(permission in ROLE_PERMISSIONS[role] for role in roles)


def scope_permissions(scopes: tuple[TokenScope, ...] | frozenset[TokenScope]
                      ) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for scope in scopes:
        granted |= SCOPE_PERMISSIONS[scope]
    return frozenset(granted)
