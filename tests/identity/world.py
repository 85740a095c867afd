"""A hub with people, organizations, teams, tokens and plugins in every relationship the
permission matrix names, for the identity tests.

Two organizations with the same structure: ``pubco`` (public namespace, public plugin
``pubco/plug``) and ``privco`` (private namespace whose plugin ``privco/plug`` is also
private). In each: ``olive`` owner, ``mark`` maintainer, ``meg`` member, and members in
teams with read (``tina``), write (``walt``) and admin (``ada``) on the whole namespace.
``otto`` is signed in but belongs to neither. Tokens belong to ``olive``: a pull-only
one and an expired one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from starlette.testclient import TestClient

from tests.catalog.publish import packed_plugin, push
from wasmhub.authz.models import ApiToken
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.hub import Hub
from wasmhub.registry.models import utcnow
from wasmhub.wasm import PackedImage

PASSWORD = "correct horse battery"
ORGS = ("pubco", "privco")
PEOPLE = {"olive": "owner", "mark": "maintainer", "meg": "member", "tina": "member",
          "walt": "member", "ada": "member"}
TEAMS = {"readers": ("tina", "read"), "writers": ("walt", "write"), "admins": ("ada", "admin")}


@dataclass
class Subject:
    """Credentials of one subject on each surface."""

    name: str
    username: str | None = None
    session: str | None = None  # web session cookie
    csrf: str | None = None
    api_token: str | None = None  # whub_… for the API/UI and Basic at the token endpoint
    expired: bool = False

    def api_headers(self) -> dict[str, str]:
        if self.api_token:
            return {"Authorization": f"Bearer {self.api_token}"}
        if self.session:
            return {"Cookie": f"wasmhub_session={self.session}",
                    "X-CSRF-Token": self.csrf or ""}
        return {}

    def basic(self) -> dict[str, str]:
        secret = self.api_token or (PASSWORD if self.username else None)
        if secret is None:
            return {}
        raw = f"{self.username or 'token'}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class World:
    hub: Hub
    client: TestClient
    subjects: dict[str, Subject] = field(default_factory=dict)
    images: dict[str, PackedImage] = field(default_factory=dict)

    def registry_token(self, subject: Subject, *scopes: str) -> str | None:
        """A bearer token from the token endpoint, or None if it refused the credentials."""
        r = self.client.get("/auth/token", params=[("service", "wasmhub"),
                                                    *(("scope", s) for s in scopes)],
                            headers=subject.basic())
        if r.status_code != 200:
            assert r.status_code in (401, 429), r.text
            return None
        token: str = r.json()["token"]
        return token


def person(hub: Hub, username: str) -> Principal:
    info = hub.identity.accounts.get_user(username)
    return Principal(PrincipalKind.USER, user_id=info.id, username=info.username)


def build_world(hub: Hub, client: TestClient) -> World:
    identity = hub.identity
    world = World(hub, client)
    for username in [*PEOPLE, "otto", "ivy"]:
        identity.accounts.create_user(username, f"{username}@example.com", PASSWORD)
    olive = person(hub, "olive")
    for org in ORGS:
        identity.orgs.create(olive, org)
        for username, role in PEOPLE.items():
            if username == "olive":
                continue
            identity.orgs.invite(olive, org, username, role)
            identity.orgs.answer_invitation(person(hub, username), org, True)
        for team, (member, permission) in TEAMS.items():
            identity.orgs.create_team(olive, org, team)
            identity.orgs.set_team_member(olive, org, team, member)
            identity.orgs.grant(olive, org, team, "*", permission)
        one = packed_plugin("plug", "1.0.0", en=f"{org} plug", description="matrixplug")
        two = packed_plugin("plug", "2.0.0", en=f"{org} plug", description="matrixplug")
        world.images[f"{org}/one"], world.images[f"{org}/two"] = one, two
        push(hub, f"{org}/plug", "1.0.0", one)
        push(hub, f"{org}/plug", "2.0.0", two)
    identity.orgs.set_repository_policy(olive, "privco/plug", private=True)
    identity.orgs.set_namespace_private(olive, "privco", True)

    world.subjects["anonymous"] = Subject("anonymous")
    for username in [*PEOPLE, "otto"]:
        info = identity.accounts.get_user(username)
        new = identity.accounts.start_session(info.id, "testclient")
        world.subjects[username] = Subject(username, username, new.cookie, new.csrf_token)
    pull_token, _ = identity.tokens.create(name="ci pull", scopes=["pull"], resources=[],
                                           created_by="olive", user_id=olive.user_id)
    world.subjects["scoped-token"] = Subject("scoped-token", "olive", api_token=pull_token)
    expired, info = identity.tokens.create(name="old", scopes=["pull", "push"], resources=[],
                                           created_by="olive", user_id=olive.user_id,
                                           expires_days=1)
    with hub.database.session() as session:
        session.execute(update(ApiToken).where(ApiToken.id == info.id)
                        .values(expires_at=utcnow() - timedelta(days=1)))
    world.subjects["expired-token"] = Subject("expired-token", "olive", api_token=expired,
                                              expired=True)
    return world
