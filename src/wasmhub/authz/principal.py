"""``Principal``: who is asking, resolved once per request (``authz.middleware``).

Three kinds: anonymous; a user (web session, password, or a registry JWT issued to
them); a token (an API token acting for its user or for an organization, or a registry
JWT issued to one). Services take the principal as an explicit argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from wasmhub.authz.permissions import Permission, RegistryAction


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    TOKEN = "token"


@dataclass(frozen=True)
class TokenGrant:
    """What an API token adds to (really: takes away from) its owner's permissions."""

    token_id: int
    permissions: frozenset[Permission]
    resources: tuple[str, ...]  # "ns" or "ns/repo"; empty = everything the owner has
    namespace: str | None = None  # set for organization tokens: they act for it

    def covers(self, repository: str | None, namespace: str) -> bool:
        if not self.resources:
            return True
        for resource in self.resources:
            if "/" in resource:
                if repository == resource:
                    return True
            elif resource == namespace:
                return True
        return False


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    user_id: int | None = None
    username: str | None = None
    is_site_admin: bool = False
    token: TokenGrant | None = None
    # Registry JWTs carry the access the token endpoint granted: repository → actions.
    registry_access: dict[str, frozenset[RegistryAction]] | None = None
    registry_catalog: bool = False  # the JWT grants registry:catalog:*
    registry_visible: frozenset[str] = frozenset()  # readable, though pull was not asked
    # Actions the token endpoint was asked for and refused, per repository.
    registry_denied: dict[str, frozenset[RegistryAction]] = field(default_factory=dict)
    client_addr: str = ""
    session_csrf: str | None = None
    via: str = field(default="", compare=False)  # "session", "api-token", "jwt", "basic"

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @property
    def is_person(self) -> bool:
        """A user acting themselves (not through a token): may star, sign forms."""
        return self.kind is PrincipalKind.USER

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        if self.token is not None:
            owner = self.token.namespace or self.username or "?"
            return f"token:{self.token.token_id}({owner})"
        return self.username or "anonymous"

    def with_addr(self, client_addr: str) -> Principal:
        from dataclasses import replace

        return replace(self, client_addr=client_addr)


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
