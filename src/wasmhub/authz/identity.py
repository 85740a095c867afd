"""``Identity``: the identity and access services of one hub process, built once.

Held by :class:`wasmhub.hub.Hub` as ``hub.identity``; the middleware, the registry gate,
the token endpoint, the API and the UI all use these instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from wasmhub.accounts.service import AccountService
from wasmhub.authz.access import AccessService
from wasmhub.authz.audit import AuditLog
from wasmhub.authz.middleware import TOKEN_PATH
from wasmhub.authz.ratelimit import RateLimiter, make_rate_limiter
from wasmhub.authz.registry_tokens import RegistryTokenSigner
from wasmhub.authz.tokens import TokenService
from wasmhub.db.engine import Database
from wasmhub.orgs.service import OrgService
from wasmhub.settings import Settings

__all__ = ["TOKEN_PATH", "Identity", "registry_service"]


@dataclass
class Identity:
    settings: Settings
    accounts: AccountService
    access: AccessService
    orgs: OrgService
    tokens: TokenService
    signer: RegistryTokenSigner
    audit: AuditLog
    limiter: RateLimiter

    @classmethod
    def build(cls, settings: Settings, database: Database) -> Identity:
        access = AccessService(database, settings.open_namespaces)
        audit = AuditLog(database)
        return cls(
            settings=settings,
            accounts=AccountService(database, settings.session_days),
            access=access,
            orgs=OrgService(database, access, audit),
            tokens=TokenService(database),
            signer=RegistryTokenSigner(settings.effective_registry_key_file,
                                       registry_service(settings),
                                       settings.registry_token_seconds),
            audit=audit,
            limiter=make_rate_limiter(settings.redis_url),
        )


def registry_service(settings: Settings) -> str:
    """The ``service`` of challenges and the ``aud`` of registry JWTs."""
    if settings.public_url:
        return urlsplit(settings.public_url).netloc or "wasmhub"
    return "wasmhub"
