"""People for tests of other features: a user (optionally owning organizations) and the
Basic credentials the API takes for them (a person, so stars and yanks work)."""

from __future__ import annotations

import base64
import re

from starlette.testclient import TestClient

from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.hub import Hub

PASSWORD = "correct horse battery"


def basic_headers(username: str, password: str = PASSWORD) -> dict[str, str]:
    raw = f"{username}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def make_user(hub: Hub, username: str, *, owns: tuple[str, ...] = ()) -> dict[str, str]:
    """Create ``username`` (and organizations ``owns`` they own); their API headers."""
    info = hub.identity.accounts.create_user(username, f"{username}@example.com", PASSWORD)
    principal = Principal(PrincipalKind.USER, user_id=info.id, username=info.username)
    for org in owns:
        hub.identity.orgs.create(principal, org)
    return basic_headers(username)


def token_headers(hub: Hub, username: str, scopes: tuple[str, ...] = ("pull", "push", "delete",
                                                                    "admin")) -> dict[str, str]:
    """An API token of existing user ``username`` (cheap per request: no argon2)."""
    info = hub.identity.accounts.get_user(username)
    secret, _ = hub.identity.tokens.create(name="tests", scopes=list(scopes), resources=[],
                                           created_by=username, user_id=info.id)
    return {"Authorization": f"Bearer {secret}"}


def csrf_token(client: TestClient, path: str = "/") -> str:
    """The CSRF token a page hands this client (its forms must send it back)."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str) -> str:
    """Give ``client`` a web session of ``username`` (creating the user); its CSRF token."""
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    make_user(hub, username)
    info = hub.identity.accounts.get_user(username)
    session = hub.identity.accounts.start_session(info.id, "testclient")
    client.cookies.set("wasmhub_session", session.cookie)
    return session.csrf_token
