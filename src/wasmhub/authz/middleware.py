"""Resolves the request's :class:`Principal` once, for every mount (``/v2/``, ``/api/``,
the UI), and leaves it in the ASGI scope; handlers read it with :func:`principal_of`.

Accepted credentials, by surface:

- ``/v2/``: ``Authorization: Bearer <registry JWT>`` from the token endpoint (Docker
  token spec). Nothing else: no cookies, no Basic (clients get a Bearer challenge).
- ``/auth/token``: nothing here; the endpoint checks its Basic credentials itself.
- ``/api/`` and the UI: ``Authorization: Bearer whub_…`` (an API token), ``Basic``
  with a password or an API token (the CLI), or the ``wasmhub_session`` cookie.

Bad credentials are not answered here: the error is stored and each surface answers
it in its own format (OCI envelope, problem+json, or the UI treating it as signed out).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from wasmhub.authz.audit import AuditAction, Outcome
from wasmhub.authz.principal import ANONYMOUS, Principal
from wasmhub.authz.tokens import RevokedTokenError, looks_like_token
from wasmhub.errors import AuthenticationError, WasmhubError

if TYPE_CHECKING:
    from wasmhub.authz.identity import Identity

TOKEN_PATH = "/auth/token"  # also wasmhub.authz.identity.TOKEN_PATH

SESSION_COOKIE = "wasmhub_session"
PRINCIPAL_KEY = "wasmhub.principal"
ERROR_KEY = "wasmhub.auth_error"


def client_addr(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def principal_of(conn: HTTPConnection) -> Principal:
    """The request's principal; raises the stored error when its credentials were bad."""
    error = conn.scope.get(ERROR_KEY)
    if error is not None:
        raise error
    principal: Principal = conn.scope.get(PRINCIPAL_KEY, ANONYMOUS)
    return principal


def principal_or_anonymous(conn: HTTPConnection) -> Principal:
    """For the UI: bad or expired credentials mean signed out."""
    if conn.scope.get(ERROR_KEY) is not None:
        return ANONYMOUS.with_addr(client_addr(conn.scope))
    principal: Principal = conn.scope.get(PRINCIPAL_KEY, ANONYMOUS)
    return principal


def parse_basic(value: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthenticationError("the Basic credentials are malformed") from None
    username, sep, password = raw.partition(":")
    if not sep:
        raise AuthenticationError("the Basic credentials are malformed")
    return username, password


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class PrincipalMiddleware:
    def __init__(self, app: ASGIApp, identity: Identity) -> None:
        self.app = app
        self.identity = identity
        self.credentials = CredentialChecker(identity)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope[PRINCIPAL_KEY] = await self.resolve(scope)
        except WasmhubError as exc:
            scope[ERROR_KEY] = exc
            scope[PRINCIPAL_KEY] = ANONYMOUS
        await self.app(scope, receive, send)

    async def resolve(self, scope: Scope) -> Principal:
        authorization = _header(scope, b"authorization")
        path: str = scope.get("path", "")
        if path == "/v2" or path.startswith("/v2/"):
            if not authorization:
                return ANONYMOUS  # the hot path: anonymous pulls cost nothing here
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer":
                raise AuthenticationError("the registry takes Bearer tokens from its realm")
            try:
                principal = self.identity.signer.verify(value.strip())
            except AuthenticationError as exc:
                await run_in_threadpool(self._audit_failure, scope, str(exc.message))
                raise
            return principal.with_addr(client_addr(scope))
        addr = client_addr(scope)
        if path == TOKEN_PATH:
            # The token endpoint checks its own credentials (once: the abuse limits
            # count every password check).
            return ANONYMOUS.with_addr(addr)
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and looks_like_token(value.strip()):
                return await run_in_threadpool(self.credentials.token, value.strip(), addr)
            if scheme.lower() == "basic":
                username, password = parse_basic(value)
                return await run_in_threadpool(self.credentials.password_or_token, username,
                                               password, addr)
            raise AuthenticationError("send an API token (Bearer whub_…) or Basic credentials")
        cookie = _cookie(scope, SESSION_COOKIE)
        if cookie:
            found = await run_in_threadpool(self._session, cookie, addr)
            if found is not None:
                return found.with_addr(addr)
        return ANONYMOUS.with_addr(addr) if addr else ANONYMOUS

    def _session(self, cookie: str, addr: str) -> Principal | None:
        """The session's user; an unknown, expired or tampered cookie is audited and
        the request goes on signed out (the UI then clears the cookie)."""
        principal = self.identity.accounts.resolve_session(cookie)
        if principal is None:
            self.identity.audit.record(AuditAction.AUTH_FAILURE, None, outcome=Outcome.FAILURE,
                                       client_addr=addr, reason="unknown or expired session")
        return principal

    def _audit_failure(self, scope: Scope, reason: str) -> None:
        self.identity.audit.record(AuditAction.AUTH_FAILURE, None, outcome=Outcome.FAILURE,
                                   client_addr=client_addr(scope), target=scope.get("path", ""),
                                   reason=reason)



class CredentialChecker:
    """API tokens and passwords to principals, with auditing and abuse limits."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def token(self, raw: str, addr: str) -> Principal:
        try:
            return self.identity.tokens.authenticate(raw).with_addr(addr)
        except RevokedTokenError as exc:
            self.identity.audit.record(
                AuditAction.TOKEN_USE_AFTER_REVOKE, None, outcome=Outcome.DENIED,
                actor=f"token:{exc.token_id}({exc.owner})", client_addr=addr,
                namespace=exc.owner, target=str(exc.token_id))
            raise
        except AuthenticationError as exc:
            self.identity.audit.record(AuditAction.AUTH_FAILURE, None, outcome=Outcome.FAILURE,
                                       client_addr=addr, reason=exc.message)
            raise

    def password_or_token(self, username: str, password: str, addr: str) -> Principal:
        """Basic credentials: an API token as the password, or the account's password
        (rate limited per account and per address; failures audited)."""
        if looks_like_token(password):
            return self.token(password, addr)
        return sign_in(self.identity, username, password, addr, via="basic")


def sign_in(identity: Identity, username: str, password: str, addr: str, *, via: str
            ) -> Principal:
    """Check a password with the abuse limits and the audit log; the one sign-in path.

    Limits: attempts per client address, and failures per account (once an account has
    had too many, further attempts are refused without looking at the password).
    """
    from wasmhub.authz.principal import PrincipalKind

    settings = identity.settings
    name = username.strip().lower()[:64]
    window = settings.rate_window_seconds
    limiter = identity.limiter
    wait = limiter.hit(f"addr:{addr}", settings.signin_limit_per_address, window)
    failures_key = f"failures:{name}"
    if wait is None and name and limiter.count(failures_key) >= settings.signin_limit_per_account:
        wait = window
    if wait is not None:
        identity.audit.record(AuditAction.RATE_LIMITED, None, outcome=Outcome.DENIED,
                              actor=name or "anonymous", client_addr=addr, via=via)
        raise RateLimitedError(wait)
    try:
        user = identity.accounts.authenticate(name, password)
    except WasmhubError:
        if name:
            limiter.hit(failures_key, settings.signin_limit_per_account, window)
        identity.audit.record(AuditAction.SIGN_IN, None, outcome=Outcome.FAILURE,
                              actor=name or "anonymous", client_addr=addr, via=via)
        raise
    identity.audit.record(AuditAction.SIGN_IN, None, actor=user.username, client_addr=addr,
                          namespace=user.username, via=via)
    return Principal(PrincipalKind.USER, user_id=user.id, username=user.username,
                     is_site_admin=user.is_admin, client_addr=addr, via=via)


class RateLimitedError(WasmhubError):
    """Too many attempts from this address or at this account (429, Retry-After)."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} s")
        self.retry_after = retry_after
