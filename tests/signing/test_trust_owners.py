"""Organization owners manage their namespace's trusted keys and signature policy through
the REST API and the UI (``namespace:trust``), audited in the trust log and identity's log;
everyone else is refused (401/403, or 404 for a private namespace they may not read)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support.accounts import make_user, token_headers
from wasmhub.app import create_app
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.signing.keys import SigningKey
from wasmhub.signing.trust import TrustService


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url,
                        open_namespaces=False, signup="open")  # type: ignore[arg-type]
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def hub(client: TestClient) -> Hub:
    served: Hub = client.app.state.hub  # type: ignore[attr-defined]
    return served


def pem() -> str:
    return SigningKey.generate().public.to_pem().decode()


def sign_in(client: TestClient, username: str) -> str:
    """A web session of existing user ``username`` for ``client``; its CSRF token."""
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    info = hub.identity.accounts.get_user(username)
    session = hub.identity.accounts.start_session(info.id, "testclient")
    client.cookies.set("wasmhub_session", session.cookie)
    return session.csrf_token


def people(hub: Hub) -> dict[str, dict[str, str]]:
    """olive owns acme; mark maintains it; meg is a member; otto is nobody there."""
    olive = make_user(hub, "olive", owns=("acme",))
    owner = Principal(PrincipalKind.USER, user_id=hub.identity.accounts.get_user("olive").id,
                      username="olive")
    headers = {"olive": olive}
    for name, role in (("mark", "maintainer"), ("meg", "member"), ("otto", None)):
        headers[name] = make_user(hub, name)
        if role is not None:
            hub.identity.orgs.invite(owner, "acme", name, role)
            joined = Principal(PrincipalKind.USER,
                               user_id=hub.identity.accounts.get_user(name).id, username=name)
            hub.identity.orgs.answer_invitation(joined, "acme", True)
    return headers


def test_owner_adds_revokes_and_sets_policy_audited(client: TestClient, hub: Hub) -> None:
    who = people(hub)
    public = pem()
    added = client.post("/api/v1/namespaces/acme/keys", headers=who["olive"],
                        json={"name": "release", "public_key": public})
    assert added.status_code == 201, added.text
    key = added.json()
    assert key["status"] == "active" and key["created_by"] == "olive"
    listed = client.get("/api/v1/namespaces/acme/keys").json()
    assert [k["fingerprint"] for k in listed] == [key["fingerprint"]]
    # What `wasmhub verify --org` reads.
    trust = client.get("/api/v1/namespaces/acme/trust").json()
    assert [k["name"] for k in trust["keys"]] == ["release"]

    duplicate = client.post("/api/v1/namespaces/acme/keys", headers=who["olive"],
                            json={"name": "again", "public_key": public})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    bad = client.post("/api/v1/namespaces/acme/keys", headers=who["olive"],
                      json={"name": "broken", "public_key": "-----BEGIN PUBLIC KEY-----\nxx"})
    assert bad.status_code == 400 and "PEM" in bad.json()["detail"]
    unknown = client.post("/api/v1/namespaces/acme/keys/nope/revoke", headers=who["olive"],
                          json={"reason": "rotated"})
    assert unknown.status_code == 404

    policy = client.put("/api/v1/namespaces/acme/trust-policy", headers=who["olive"],
                        json={"mode": "required-for-deploy"})
    assert policy.status_code == 200
    assert policy.json() == {"namespace": "acme", "mode": "required-for-deploy",
                             "source": "namespace"}
    assert client.put("/api/v1/namespaces/acme/trust-policy", headers=who["olive"],
                      json={"mode": "whenever"}).status_code == 422
    # Revoke by fingerprint (the name works too).
    revoked = client.post(f"/api/v1/namespaces/acme/keys/{key['fingerprint']}/revoke",
                          headers=token_headers(hub, "olive"), json={"reason": "rotated"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_reason"] == "rotated"
    again = client.post("/api/v1/namespaces/acme/keys/release/revoke", headers=who["olive"],
                        json={"reason": "twice"})
    assert again.status_code == 409

    trust_log = [(a["action"], a["actor"], a["target"]) for a in TrustService(hub).audit("acme")]
    assert trust_log == [("key.add", "olive", "release"),
                         ("policy.set", "olive", "required-for-deploy"),
                         ("key.revoke", "olive", "release")]
    entries = hub.identity.audit.entries(namespace="acme")
    identity_log = [(e.action, e.actor, e.target) for e in reversed(entries)
                    if e.action.startswith("trust.")]
    assert [(a, t) for a, _, t in identity_log] == [
        ("trust.key.add", "release"), ("trust.policy.change", "required-for-deploy"),
        ("trust.key.revoke", "release")]
    # Identity's log names the token the revocation came through, and its owner.
    actors = [actor for _, actor, _ in identity_log]
    assert actors[:2] == ["olive", "olive"] and re.fullmatch(r"token:\d+\(olive\)", actors[2])


def test_others_are_refused(client: TestClient, hub: Hub) -> None:
    who = people(hub)
    body = {"name": "mine", "public_key": pem()}
    assert client.post("/api/v1/namespaces/acme/keys", json=body).status_code == 401
    for name in ("mark", "meg", "otto"):
        refused = client.post("/api/v1/namespaces/acme/keys", headers=who[name], json=body)
        assert refused.status_code == 403, (name, refused.text)
        assert client.put("/api/v1/namespaces/acme/trust-policy", headers=who[name],
                          json={"mode": "optional"}).status_code == 403
    # A token without the admin scope cannot, though its owner could.
    pull_only = token_headers(hub, "olive", ("pull", "push"))
    assert client.post("/api/v1/namespaces/acme/keys", headers=pull_only,
                       json=body).status_code == 403
    assert client.get("/api/v1/namespaces/acme/keys").json() == []
    assert TrustService(hub).audit("acme") == []

    # A private namespace is not found for those who may not read it, even with bad input.
    olive = Principal(PrincipalKind.USER, user_id=hub.identity.accounts.get_user("olive").id,
                      username="olive")
    hub.identity.orgs.set_namespace_private(olive, "acme", True)
    bad = {"name": "x", "public_key": "not a key"}
    assert client.post("/api/v1/namespaces/acme/keys", headers=who["otto"],
                       json=bad).status_code == 404
    assert client.post("/api/v1/namespaces/acme/keys", json=bad).status_code == 404
    assert client.get("/api/v1/namespaces/acme/keys").status_code == 404
    assert client.get("/api/v1/namespaces/acme/trust", headers=who["otto"]).status_code == 404
    assert client.get("/api/v1/namespaces/acme/trust", headers=who["meg"]).status_code == 200
    assert client.post("/api/v1/namespaces/acme/keys", headers=who["meg"],
                       json=bad).status_code == 403


def test_session_api_calls_need_the_csrf_token(client: TestClient, hub: Hub) -> None:
    people(hub)
    csrf = sign_in(client, "olive")
    body = {"name": "web", "public_key": pem()}
    assert client.post("/api/v1/namespaces/acme/keys", json=body).status_code == 403
    done = client.post("/api/v1/namespaces/acme/keys", json=body,
                       headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text


def test_owner_manages_keys_in_the_ui(client: TestClient, hub: Hub) -> None:
    people(hub)
    csrf = sign_in(client, "olive")
    org = client.get("/orgs/acme")
    assert 'href="/orgs/acme/keys"' in org.text
    page = client.get("/orgs/acme/keys")
    assert page.status_code == 200 and 'id="key-add-form"' in page.text
    assert "<script>" not in page.text.split('id="key-add-form"')[1].split("</form>")[0]
    public = pem()
    form = {"action": "add", "name": "ui-key", "public_key": public}
    refused = client.post("/orgs/acme/keys", data=form)
    assert refused.status_code == 403
    assert TrustService(hub).keys("acme") == []
    added = client.post("/orgs/acme/keys", data={**form, "csrf_token": csrf})
    assert added.status_code == 200, added.text
    [key] = TrustService(hub).keys("acme")
    assert key.name == "ui-key" and key.created_by == "olive"
    assert key.fingerprint in added.text
    bad = client.post("/orgs/acme/keys", data={**form, "name": "other", "public_key": "nope",
                                               "csrf_token": csrf})
    assert bad.status_code == 400 and 'id="form-error"' in bad.text
    client.post("/orgs/acme/keys", data={"action": "policy", "mode": "required-for-pull",
                                         "csrf_token": csrf})
    assert TrustService(hub).policy("acme").mode.value == "required-for-pull"
    revoked = client.post("/orgs/acme/keys", data={"action": "revoke", "key": "ui-key",
                                                   "reason": "lost laptop",
                                                   "csrf_token": csrf})
    assert revoked.status_code == 200
    row = re.search(r'<tr id="key-ui-key">.*?</tr>', revoked.text, re.S)
    assert row and "revoked" in row.group(0) and "lost laptop" in row.group(0)
    actions = [e.action for e in hub.identity.audit.entries(namespace="acme")]
    assert {"trust.key.add", "trust.policy.change", "trust.key.revoke"} <= set(actions)
    zh = client.get("/orgs/acme/keys?lang=zh")
    assert "签名密钥" in zh.text


def test_non_owners_do_not_get_the_page(client: TestClient, hub: Hub) -> None:
    people(hub)
    sign_in(client, "meg")
    assert 'href="/orgs/acme/keys"' not in client.get("/orgs/acme").text
    assert client.get("/orgs/acme/keys").status_code == 403
