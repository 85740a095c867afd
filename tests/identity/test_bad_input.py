"""Bad credentials and bad requests: the right 401/403/404/429 with a message and an
audit entry, never a 500 (``tests.identity.world`` provides the people and plugins)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests.identity.world import PASSWORD, World
from wasmhub.app import create_app
from wasmhub.settings import Settings

MANIFEST = "/v2/privco/plug/manifests/1.0.0"


def audit_actions(world: World, action: str) -> list[dict[str, object]]:
    return [e.to_json() for e in world.hub.identity.audit.entries(action=action, limit=1000)]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def token_for(world: World, user: str, scope: str) -> str:
    r = world.client.get("/auth/token", params={"service": "wasmhub", "scope": scope},
                         headers=basic(user, PASSWORD))
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def test_forged_registry_tokens_are_refused_and_audited(world: World) -> None:
    good = token_for(world, "olive", "repository:privco/plug:pull")
    assert world.client.get(MANIFEST, headers={"Authorization": f"Bearer {good}"}
                            ).status_code == 200
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)
    unsigned = jwt.encode(claims, None, algorithm="none")  # alg: none
    other_key = jwt.encode(claims, "not-our-key" * 4, algorithm="HS256",
                           headers={"kid": header["kid"]})
    unknown_kid = jwt.encode(claims, "not-our-key" * 4, algorithm="HS256",
                             headers={"kid": "someone-elses"})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, "x", algorithm="HS256")
    payload, signature = good.rsplit(".", 1)
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    before = len(audit_actions(world, "auth.failure"))
    for bad in (unsigned, other_key, unknown_kid, expired, tampered, "garbage", ""):
        r = world.client.get(MANIFEST, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, (bad, r.text)
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert len(audit_actions(world, "auth.failure")) >= before + 6
    # Basic is not a registry credential (clients are sent to the token endpoint).
    r = world.client.get(MANIFEST, headers=basic("olive", PASSWORD))
    assert r.status_code == 401 and "Bearer realm=" in r.headers["www-authenticate"]


def test_over_asking_gets_the_granted_subset_and_an_audit_entry(world: World) -> None:
    token = token_for(world, "otto", "repository:pubco/plug:pull,push,delete")
    access = jwt.decode(token, options={"verify_signature": False})["access"]
    assert [(a["name"], a["actions"]) for a in access] == [("pubco/plug", ["pull"])]
    headers = {"Authorization": f"Bearer {token}"}
    assert world.client.get("/v2/pubco/plug/manifests/1.0.0", headers=headers
                            ).status_code == 200
    r = world.client.delete("/v2/pubco/plug/manifests/1.0.0", headers=headers)
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
    denied = audit_actions(world, "access.denied")
    assert any(e["actor"] == "otto" and e["target"] == "pubco/plug" for e in denied)
    # Asking about a private repository one cannot read: it does not exist (404).
    hidden = token_for(world, "otto", "repository:privco/plug:pull,push")
    r = world.client.get(MANIFEST, headers={"Authorization": f"Bearer {hidden}"})
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_wrong_passwords_do_not_reveal_which_users_exist(world: World) -> None:
    wrong = world.client.get("/auth/token", headers=basic("olive", "wrong password!"))
    nobody = world.client.get("/auth/token", headers=basic("nobody-here", "wrong password!"))
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    api_wrong = world.client.get("/api/v1/me", headers=basic("olive", "wrong password!"))
    api_nobody = world.client.get("/api/v1/me", headers=basic("nobody-here", "x" * 12))
    assert api_wrong.status_code == api_nobody.status_code == 401
    assert api_wrong.json()["detail"] == api_nobody.json()["detail"]
    failures = [e for e in audit_actions(world, "sign-in") if e["outcome"] == "failure"]
    assert {e["actor"] for e in failures} >= {"olive", "nobody-here"}
    malformed = world.client.get("/api/v1/me", headers={"Authorization": "Basic %%%"})
    assert malformed.status_code == 401


def test_tampered_cookie_and_cross_site_posts(world: World) -> None:
    client = world.client
    meg = world.subjects["meg"]
    assert meg.session is not None
    client.cookies.set("wasmhub_session", meg.session)
    assert client.get("/plugins/privco/plug").status_code == 200
    client.cookies.set("wasmhub_session", meg.session[:-1] + ("x" if meg.session[-1] != "x"
                                                               else "y"))
    page = client.get("/plugins/privco/plug")
    assert page.status_code == 404  # signed out now: the private plugin does not exist
    assert client.get("/api/v1/plugins/privco/plug").status_code == 404
    assert any(e["detail"] == {"reason": "unknown or expired session"}
               for e in audit_actions(world, "auth.failure"))
    client.cookies.clear()
    # A signed-in browser posting without the CSRF token, from another origin.
    client.cookies.set("wasmhub_session", meg.session)
    star = client.post("/stars/pubco/plug", data={"starred": "true"},
                       headers={"Origin": "https://evil.example"})
    assert star.status_code == 403
    api = client.put("/api/v1/plugins/pubco/plug/star", headers={"Origin": "https://evil.example"})
    assert api.status_code == 403
    right = client.put("/api/v1/plugins/pubco/plug/star", headers={"X-CSRF-Token": meg.csrf or ""})
    assert right.status_code == 200 and right.json()["stars"] == 1
    # The right token but another origin: still refused.
    forged = client.post("/stars/pubco/plug", data={"starred": "false",
                                                     "csrf_token": meg.csrf or ""},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    client.cookies.clear()
    reasons = [str(e["detail"]) for e in audit_actions(world, "access.denied")]
    assert sum("CSRF" in r for r in reasons) >= 3


def test_tag_immutability(world: World) -> None:
    olive = world.subjects["olive"]
    r = world.client.put("/api/v1/repositories/pubco/plug/settings", json={"tag_immutable": True},
                         headers=olive.api_headers())
    assert r.status_code == 200 and r.json()["tag_immutable"] is True
    token = token_for(world, "olive", "repository:pubco/plug:pull,push")
    two = world.images["pubco/two"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": two.manifest_media_type}
    moved = world.client.put("/v2/pubco/plug/manifests/1.0.0", content=two.manifest,
                             headers=headers)
    assert moved.status_code == 403 and "immutable" in moved.json()["errors"][0]["message"]
    fresh = world.client.put("/v2/pubco/plug/manifests/3.0.0", content=two.manifest,
                             headers=headers)
    assert fresh.status_code == 201
    refused = audit_actions(world, "tag.move")
    assert any(e["outcome"] == "denied" and e["target"] == "pubco/plug:1.0.0" for e in refused)
    assert any(e["target"] == "pubco/plug:3.0.0" for e in audit_actions(world, "push"))


def test_private_plugin_in_a_public_namespace_is_invisible(world: World) -> None:
    """Repository-level privacy (the matrix covers private namespaces)."""
    olive, otto = world.subjects["olive"], world.subjects["otto"]
    r = world.client.put("/api/v1/repositories/pubco/plug/settings", json={"private": True},
                         headers=olive.api_headers())
    assert r.status_code == 200
    for who, visible in ((otto, False), (world.subjects["meg"], True)):
        world.client.cookies.clear()
        found = world.client.get("/api/v1/plugins", params={"q": "matrixplug"},
                                 headers=who.api_headers()).json()
        names = {f"{p['namespace']}/{p['name']}" for p in found["items"]}
        assert ("pubco/plug" in names) is visible
        facets = world.client.get("/api/v1/facets", headers=who.api_headers()).json()
        assert any(f["value"] == "pubco" for f in facets["namespace"]) is visible
        categories = world.client.get("/api/v1/categories", headers=who.api_headers()).json()
        assert (sum(c["count"] for c in categories) >= 1) is visible
        status = world.client.get("/api/v1/plugins/pubco/plug", headers=who.api_headers())
        assert status.status_code == (200 if visible else 404)
        token = token_for(world, who.name, "repository:pubco/plug:pull")
        bearer = {"Authorization": f"Bearer {token}"}
        tags = world.client.get("/v2/pubco/plug/tags/list", headers=bearer)
        assert tags.status_code == (200 if visible else 404)
        catalog_token = token_for(world, who.name, "registry:catalog:*")
        listed = world.client.get("/v2/_catalog",
                                  headers={"Authorization": f"Bearer {catalog_token}"}).json()
        assert ("pubco/plug" in listed["repositories"]) is visible
    anonymous = world.client.get("/v2/pubco/plug/manifests/1.0.0")
    assert anonymous.status_code == 401
    assert world.client.get("/v2/_catalog").json()["repositories"] == []


@pytest.fixture
def limited_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "limited", database_url=database_url,
                    signin_limit_per_account=3, signin_limit_per_address=1000)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_sign_in_limits(limited_settings: Settings, store: str) -> None:
    settings = limited_settings
    if store == "redis":
        import uuid

        import redis

        settings = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
        # A user name of its own, so parallel runs never share counters.
        name = f"r{uuid.uuid4().hex[:10]}"
    else:
        name = "rita"
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        hub = client.app.state.hub  # type: ignore[attr-defined]
        hub.identity.accounts.create_user(name, f"{name}@example.com", PASSWORD)
        codes = [client.get("/auth/token", headers=basic(name, "wrong password!")).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        # Locked for the window even with the right password; other accounts are not.
        locked = client.get("/auth/token", headers=basic(name, PASSWORD))
        assert locked.status_code == 429 and "Retry-After" in locked.headers
        web = client.post("/account/sign-in", data={"username": name, "password": PASSWORD,
                                                    "csrf_token": _form_token(client)})
        assert web.status_code == 429
        limited = [e for e in hub.identity.audit.entries(action="rate-limited")
                   if e.actor == name]
        assert limited
        if store == "redis":
            r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            assert int(r.get(f"wasmhub:rate:failures:{name}") or 0) >= 3
            r.delete(f"wasmhub:rate:failures:{name}")


def _form_token(client: TestClient) -> str:
    from tests.support.accounts import csrf_token

    return csrf_token(client, "/account/sign-in")


def test_json_lines_export(world: World) -> None:
    olive, meg = world.subjects["olive"], world.subjects["meg"]
    r = world.client.get("/api/v1/namespaces/privco/audit", params={"format": "jsonl"},
                         headers=olive.api_headers())
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert {"membership.change", "team.change", "visibility.change"} <= {e["action"]
                                                                        for e in lines}
    assert all(e["namespace"] == "privco" for e in lines)
    filtered = world.client.get("/api/v1/namespaces/privco/audit",
                                params={"action": "visibility.change"},
                                headers=olive.api_headers()).json()
    assert filtered and {e["action"] for e in filtered} == {"visibility.change"}
    # Members may not read it; outsiders do not even see the private namespace.
    assert world.client.get("/api/v1/namespaces/privco/audit",
                            headers=meg.api_headers()).status_code == 403
    assert world.client.get("/api/v1/namespaces/privco/audit",
                            headers=world.subjects["otto"].api_headers()).status_code == 404
    world.client.cookies.set("wasmhub_session", olive.session or "")
    page = world.client.get("/orgs/privco/audit")
    world.client.cookies.clear()
    assert page.status_code == 200 and "visibility.change" in page.text


def test_served_modules_follow_visibility(world: World) -> None:
    """/modules/sha256:<hex>.wasm (deploy) asks the same permission check."""
    from wasmhub.catalog.service import CatalogService

    version = CatalogService(world.hub).get_version("privco", "plug", "1.0.0")
    url = f"/modules/sha256:{version.module_sha256}.wasm"
    world.client.cookies.clear()
    assert world.client.get(url).status_code == 404
    meg = world.subjects["meg"]
    world.client.cookies.set("wasmhub_session", meg.session or "")
    served = world.client.get(url)
    world.client.cookies.clear()
    assert served.status_code == 200 and served.content.startswith(b"\0asm")
