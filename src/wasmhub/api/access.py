"""The API's view of identity: the request's principal (resolved by
``authz.middleware``) as a FastAPI dependency, with the CSRF rule for cookie sessions.

A browser session may change things only with the session's CSRF token in the
``X-CSRF-Token`` header (pages put it in ``<meta name="csrf-token">``); API tokens and
Basic credentials are not ambient, so they need none.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wasmhub.accounts.service import same_secret
from wasmhub.authz.access import AccessService
from wasmhub.authz.audit import AuditAction, Outcome
from wasmhub.authz.identity import Identity
from wasmhub.authz.middleware import principal_of
from wasmhub.authz.principal import Principal
from wasmhub.errors import AuthenticationError, PermissionDeniedError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def identity_of(request: Request) -> Identity:
    identity: Identity = request.app.state.hub.identity
    return identity


def current_principal(request: Request) -> Principal:
    principal = principal_of(request)
    if request.method not in SAFE_METHODS and principal.via == "session":
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not same_secret(sent, principal.session_csrf or ""):
            identity_of(request).audit.record(
                AuditAction.ACCESS_DENIED, principal, outcome=Outcome.DENIED,
                target=request.url.path[:200], reason="API call from a session without "
                "its CSRF token", origin=request.headers.get("origin"))
            raise PermissionDeniedError(
                f"a signed-in browser must send its CSRF token in {CSRF_HEADER}")
    return principal


def signed_in(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.is_anonymous:
        raise AuthenticationError("sign in, or send an API token (Authorization: Bearer whub_…)")
    return principal


def access_of(request: Request) -> AccessService:
    return identity_of(request).access


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
SignedIn = Annotated[Principal, Depends(signed_in)]
Ident = Annotated[Identity, Depends(identity_of)]
