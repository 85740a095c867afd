"""API tokens: personal or organization, scoped, limited to namespaces/repositories,
expiring, shown once, stored hashed, revocable, with a last-used time.

Wire form: ``whub_<public id>_<secret>``. The public id finds the row; the secret's
SHA-256 is compared in constant time. Usable as the password of Basic auth at the
registry token endpoint and the API, or as ``Authorization: Bearer`` on the API.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from wasmhub.accounts.models import User
from wasmhub.accounts.service import digest, same_secret
from wasmhub.authz.models import ApiToken
from wasmhub.authz.permissions import TokenScope, scope_permissions
from wasmhub.authz.principal import Principal, PrincipalKind, TokenGrant
from wasmhub.db.engine import Database
from wasmhub.errors import AuthenticationError, InputError, NotFoundError
from wasmhub.oci.names import is_valid_name
from wasmhub.orgs.models import Namespace
from wasmhub.registry.models import utcnow

PREFIX = "whub_"
TOKEN_RE = re.compile(r"^whub_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$")
MAX_DAYS = 366
# Writing last_used_at on every use would make each pull a write; once a minute is enough.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class RevokedTokenError(AuthenticationError):
    """A revoked token was presented (the audit log records it)."""

    def __init__(self, token_id: int, owner: str) -> None:
        super().__init__("this token was revoked")
        self.token_id = token_id
        self.owner = owner


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    owner: str  # username, or the organization's name
    kind: str  # "personal" or "organization"
    scopes: tuple[str, ...]
    resources: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


def parse_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[TokenScope, ...]:
    try:
        parsed = tuple(dict.fromkeys(TokenScope(s.strip().lower()) for s in scopes))
    except ValueError:
        raise InputError(
            "token scopes are " + ", ".join(s.value for s in TokenScope)) from None
    if not parsed:
        raise InputError("a token needs at least one scope")
    return parsed


def check_resources(resources: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for raw in resources:
        value = raw.strip().strip("/")
        if not value or not is_valid_name(value):
            raise InputError(f"{raw!r} is not a namespace or repository name")
        out.append(value)
    return tuple(dict.fromkeys(out))


class TokenService:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create(self, *, name: str, scopes: list[str], resources: list[str],
               created_by: str, user_id: int | None = None, namespace: str | None = None,
               expires_days: int | None = 90) -> tuple[str, TokenInfo]:
        """A new token; returns the secret (shown once) and its description."""
        label = name.strip()
        if not (1 <= len(label) <= 100):
            raise InputError("name the token (1-100 characters)")
        parsed = parse_scopes(scopes)
        limited = check_resources(resources)
        if expires_days is not None and not (1 <= expires_days <= MAX_DAYS):
            raise InputError(f"a token expires after 1 to {MAX_DAYS} days")
        public_id = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
                                           "23456789") for _ in range(16))
        secret = secrets.token_urlsafe(32)[:43].ljust(43, "A")
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        with self.db.session() as session:
            ns_id = None
            if namespace is not None:
                ns_id = session.scalar(select(Namespace.id).where(
                    Namespace.name == namespace, Namespace.kind == "org"))
                if ns_id is None:
                    raise NotFoundError(f"no organization {namespace!r}")
                if any(r.split("/", 1)[0] != namespace for r in limited):
                    raise InputError("an organization token is limited to its namespace")
            row = ApiToken(public_id=public_id, secret_hash=digest(secret), name=label,
                           user_id=None if ns_id else user_id, namespace_id=ns_id,
                           created_by=created_by, scopes=[s.value for s in parsed],
                           resources=list(limited), expires_at=expires)
            session.add(row)
            session.flush()
            info = self._info(row, namespace or created_by)
        return f"{PREFIX}{public_id}_{secret}", info

    def _info(self, row: ApiToken, owner: str) -> TokenInfo:
        return TokenInfo(row.id, row.name, owner,
                         "organization" if row.namespace_id else "personal",
                         tuple(row.scopes), tuple(row.resources), _aware(row.created_at)
                         or utcnow(), _aware(row.expires_at), _aware(row.last_used_at),
                         row.revoked_at is not None)

    def list(self, *, user_id: int | None = None, namespace: str | None = None
             ) -> list[TokenInfo]:
        with self.db.session() as session:
            query = select(ApiToken, User.username, Namespace.name).outerjoin(
                User, User.id == ApiToken.user_id).outerjoin(
                Namespace, Namespace.id == ApiToken.namespace_id).order_by(ApiToken.id)
            if namespace is not None:
                query = query.where(Namespace.name == namespace)
            else:
                query = query.where(ApiToken.user_id == user_id)
            return [self._info(t, ns or u or "?") for t, u, ns in session.execute(query)]

    def owner_of(self, token_id: int) -> tuple[int | None, str | None]:
        """(user id, organization name) of a token; NotFoundError when unknown."""
        with self.db.session() as session:
            row = session.execute(
                select(ApiToken.user_id, Namespace.name).outerjoin(
                    Namespace, Namespace.id == ApiToken.namespace_id)
                .where(ApiToken.id == token_id)).first()
        if row is None:
            raise NotFoundError(f"no token {token_id}")
        return row[0], row[1]

    def revoke(self, token_id: int) -> None:
        with self.db.session() as session:
            session.execute(update(ApiToken).where(
                ApiToken.id == token_id, ApiToken.revoked_at.is_(None)
            ).values(revoked_at=utcnow()))

    def principal_by_id(self, token_id: int) -> Principal:
        """The principal token ``token_id`` acts as now (revoked/expired/disabled raise)."""
        with self.db.session() as session:
            row = session.execute(
                select(ApiToken.public_id).where(ApiToken.id == token_id)).first()
        if row is None:
            raise AuthenticationError("that token is not valid")
        return self._principal(row[0], None)

    def authenticate(self, raw: str) -> Principal:
        """The principal a token acts as; AuthenticationError for anything wrong."""
        match = TOKEN_RE.match(raw.strip())
        if match is None:
            raise AuthenticationError("that is not a valid wasmhub token")
        public_id, secret = match.groups()
        return self._principal(public_id, secret)

    def _principal(self, public_id: str, secret: str | None) -> Principal:
        """``secret`` None: already authenticated (a registry JWT naming the token)."""
        now = utcnow()
        with self.db.session() as session:
            row = session.execute(
                select(ApiToken, User, Namespace.name)
                .outerjoin(User, User.id == ApiToken.user_id)
                .outerjoin(Namespace, Namespace.id == ApiToken.namespace_id)
                .where(ApiToken.public_id == public_id)
            ).first()
            token, user, ns_name = row if row is not None else (None, None, None)
            if token is None or (secret is not None
                                 and not same_secret(token.secret_hash, digest(secret))):
                raise AuthenticationError("that token is not valid")
            if token.revoked_at is not None:
                raise RevokedTokenError(token.id, ns_name or (user.username if user else "?"))
            expires = _aware(token.expires_at)
            if expires is not None and expires <= now:
                raise AuthenticationError("that token has expired")
            if user is not None and user.disabled:
                raise AuthenticationError("that token's user is disabled")
            last = _aware(token.last_used_at)
            if last is None or now - last >= LAST_USED_GRANULARITY:
                token.last_used_at = now
            grant = TokenGrant(token.id, scope_permissions(parse_scopes(token.scopes)),
                               tuple(token.resources), namespace=ns_name)
            return Principal(PrincipalKind.TOKEN, user_id=user.id if user else None,
                             username=user.username if user else ns_name,
                             token=grant, via="api-token")
