"""``GET/POST /auth/token``: the registry token endpoint (Docker token authentication).

GET takes ``service``, ``scope`` (repeatable, space-separated values allowed) and
optional ``Authorization: Basic`` with a password or an API token; POST takes the OAuth2
form (``grant_type=password`` with ``username``/``password``). Without credentials the
caller is anonymous and gets what anonymous callers may do (pull public plugins). The
JWT lists the *granted subset* of every requested scope: a repository the caller may
not touch appears with no actions, which the registry answers with 404; asking for more
than granted is audited. Errors use the registry's JSON envelope.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wasmhub.authz.access import namespace_of
from wasmhub.authz.audit import AuditAction, Outcome
from wasmhub.authz.middleware import (
    CredentialChecker,
    RateLimitedError,
    client_addr,
    parse_basic,
)
from wasmhub.authz.permissions import RegistryAction
from wasmhub.authz.principal import ANONYMOUS, Principal
from wasmhub.errors import AuthenticationError, WasmhubError
from wasmhub.oci.errors import OCIError, TooManyRequests, Unauthorized, error_envelope
from wasmhub.oci.names import is_valid_name

if TYPE_CHECKING:
    from wasmhub.authz.identity import Identity

_SCOPE_RE = re.compile(r"^repository(?:\([a-z]+\))?:(?P<name>[^:]+):(?P<actions>[a-z*,]*)$")
MAX_SCOPES = 32


def parse_scopes(values: list[str]) -> tuple[dict[str, frozenset[RegistryAction]], bool]:
    """Requested repository scopes (unknown or malformed ones are ignored, as the spec
    allows) and whether ``registry:catalog:*`` was asked for."""
    wanted: dict[str, set[RegistryAction]] = {}
    catalog = False
    for value in values:
        for item in value.split():
            if item == "registry:catalog:*":
                catalog = True
                continue
            match = _SCOPE_RE.match(item)
            if match is None or not is_valid_name(match.group("name")):
                continue
            actions: set[RegistryAction] = set()
            for raw in match.group("actions").split(","):
                if raw == "*":
                    actions.update(RegistryAction)
                elif raw in RegistryAction.__members__.values():
                    actions.add(RegistryAction(raw))
            wanted.setdefault(match.group("name"), set()).update(actions)
            if len(wanted) > MAX_SCOPES:
                break
    return {k: frozenset(v) for k, v in wanted.items()}, catalog


def _error(exc: OCIError, realm: str | None = None) -> Response:
    headers = {"WWW-Authenticate": f'Basic realm="{realm}"'} if realm else {}
    if isinstance(exc, TooManyRequests) and isinstance(exc.detail, dict):
        headers["Retry-After"] = str(exc.detail.get("retry_after", 60))
    return Response(error_envelope(exc), status_code=exc.http_status,
                    media_type="application/json", headers=headers)


def make_token_endpoint(identity: Identity) -> Callable[[Request], Awaitable[Response]]:
    checker = CredentialChecker(identity)

    def authenticate(username: str, password: str, addr: str) -> Principal:
        return checker.password_or_token(username, password, addr)

    def grant(principal: Principal, wanted: dict[str, frozenset[RegistryAction]]
              ) -> tuple[dict[str, frozenset[RegistryAction]], frozenset[str]]:
        """The granted subset per repository, and which of them are readable anyway."""
        everything = frozenset(RegistryAction)
        granted: dict[str, frozenset[RegistryAction]] = {}
        visible: set[str] = set()
        for name, actions in wanted.items():
            can = identity.access.registry_grant(principal, name, everything)
            granted[name] = can & actions
            if RegistryAction.PULL in can:
                visible.add(name)
        for name, actions in wanted.items():
            if granted[name] != actions:
                identity.audit.record(
                    AuditAction.ACCESS_DENIED, principal, outcome=Outcome.DENIED,
                    namespace=namespace_of(name), target=name,
                    requested=sorted(actions), granted=sorted(granted[name]))
        return granted, frozenset(visible)

    async def token(request: Request) -> Response:
        addr = client_addr(request.scope)
        if request.method == "POST":
            form = await request.form(max_fields=20, max_files=0)
            values = {k: v for k, v in form.items() if isinstance(v, str)}
            grant_type = values.get("grant_type", "")
            if grant_type != "password":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            username, password = values.get("username", ""), values.get("password", "")
            scopes = [values.get("scope", "")]
            credentials: tuple[str, str] | None = (username, password)
        else:
            scopes = request.query_params.getlist("scope")
            header = request.headers.get("authorization")
            credentials = None
            if header:
                scheme, _, value = header.partition(" ")
                try:
                    if scheme.lower() != "basic":
                        raise AuthenticationError("the token endpoint takes Basic credentials")
                    credentials = parse_basic(value)
                except AuthenticationError as exc:
                    return _error(Unauthorized(exc.message), identity.signer.service)
        principal = ANONYMOUS.with_addr(addr)
        if credentials is not None:
            try:
                principal = await run_in_threadpool(authenticate, *credentials, addr)
            except RateLimitedError as exc:
                return _error(TooManyRequests(exc.message,
                                              detail={"retry_after": exc.retry_after}))
            except WasmhubError as exc:
                return _error(Unauthorized(exc.message), identity.signer.service)
        wanted, catalog = parse_scopes(scopes)
        access, visible = await run_in_threadpool(grant, principal, wanted)
        denied = {name: wanted[name] - access[name] for name in wanted}
        jwt_token, lifetime = identity.signer.issue(principal, access, catalog=catalog,
                                                    visible=visible, denied=denied)
        issued = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return JSONResponse({"token": jwt_token, "access_token": jwt_token,
                             "expires_in": lifetime, "issued_at": issued},
                            headers={"Cache-Control": "no-store"})

    return token
