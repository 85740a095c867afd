"""Registry authentication: ``WWW-Authenticate`` challenges, Basic, and Bearer tokens.

``Authenticator.header_for(scopes)`` gives the ``Authorization`` value to send up front
(cached Basic, or a cached, unexpired token for exactly those scopes);
``Authenticator.answer(response, scopes)`` handles a 401: it parses the challenge, fetches
a token from the realm (GET with ``service``/``scope`` and Basic credentials, or the OAuth2
POST with ``grant_type=refresh_token`` for an identity token) and caches it per scope set.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from wasmhub.client.credentials import Credential
from wasmhub.client.errors import (
    RegistryAuthenticationError,
    error_from_response,
    unreachable,
)

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
CLIENT_ID = "wasmhub"
_QueryValue = str | int | float | bool | None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer" (lowercased)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenge(header: str) -> Challenge | None:
    """Parse the first challenge of a ``WWW-Authenticate`` value."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM_RE.finditer(rest)}
    params = {k: v.replace('\\"', '"') for k, v in params.items()}
    return Challenge(scheme.lower(), params)


def basic_header(credential: Credential) -> str:
    raw = f"{credential.username or ''}:{credential.password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """Per-registry auth state shared by all requests of one client."""

    def __init__(self, registry: str, credential: Credential | None,
                 http: httpx.Client) -> None:
        self.registry = registry
        self.credential = None if credential is None or credential.is_empty else credential
        self._http = http
        self._basic = False
        self._tokens: dict[tuple[str, ...], _Token] = {}

    def header_for(self, scopes: Sequence[str]) -> str | None:
        if self._basic and self.credential is not None:
            return basic_header(self.credential)
        token = self._tokens.get(tuple(sorted(scopes)))
        if token is not None and token.expires_at > time.monotonic():
            return f"Bearer {token.value}"
        return None

    def answer(self, response: httpx.Response, scopes: Sequence[str]) -> str | None:
        """The header to retry with after a 401, or None when nothing more can be tried."""
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credential is None or self._basic:
                return None  # no credentials, or they were just refused
            self._basic = True
            return basic_header(self.credential)
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        key = tuple(sorted(scopes))
        wanted = list(scopes)
        challenged = challenge.params.get("scope")
        if challenged:
            for scope in challenged.split(" "):
                if scope and scope not in wanted:
                    wanted.append(scope)
        token = self._fetch_token(challenge, wanted)
        self._tokens[key] = token
        return f"Bearer {token.value}"

    def _fetch_token(self, challenge: Challenge, scopes: list[str]) -> _Token:
        realm = challenge.realm or ""
        service = challenge.params.get("service")
        cred = self.credential
        try:
            if cred is not None and cred.identity_token:
                form: dict[str, str | list[str]] = {
                    "grant_type": "refresh_token",
                    "refresh_token": cred.identity_token,
                    "client_id": CLIENT_ID,
                }
                if service:
                    form["service"] = service
                if scopes:
                    form["scope"] = " ".join(scopes)
                response = self._http.post(realm, data=form)
            else:
                params: list[tuple[str, _QueryValue]] = [("client_id", CLIENT_ID)]
                if service:
                    params.append(("service", service))
                params.extend(("scope", s) for s in scopes)
                headers = {}
                if cred is not None and (cred.username or cred.password):
                    headers["Authorization"] = basic_header(cred)
                    params.append(("account", cred.username or ""))
                response = self._http.get(realm, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise unreachable(f"token service {realm}", exc) from exc
        if response.status_code in (401, 403):
            who = f"as {cred.username!r}" if cred and cred.username else "anonymously"
            raise RegistryAuthenticationError(
                f"{self.registry}: the token service refused credentials {who}"
                f" (run `wasmhub login {self.registry}`)",
                code="UNAUTHORIZED", status=401,
            )
        if response.status_code >= 300:
            raise error_from_response(response, what=f"token service {realm}")
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryAuthenticationError(
                f"{self.registry}: token service {realm} did not answer JSON", status=502
            ) from exc
        value = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not value:
            raise RegistryAuthenticationError(
                f"{self.registry}: token service {realm} answered without a token", status=502
            )
        expires_in = body.get("expires_in") or 60
        try:
            lifetime = max(float(expires_in), 10.0)
        except (TypeError, ValueError):
            lifetime = 60.0
        return _Token(str(value), time.monotonic() + lifetime - 5)
