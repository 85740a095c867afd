"""Transfer of a plugin between namespaces by owners of both (issue 10 item 3): the
registry, catalog, identity and signing rows move in one transaction, or nothing does."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.catalog.publish import packed_plugin, push
from tests.support.accounts import basic_headers, make_user, sign_in
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub
from wasmhub.oci.media_types import MANIFEST_ACCEPT

ACCEPT = {"Accept": ", ".join(MANIFEST_ACCEPT)}


def _person(hub: Hub, username: str) -> Principal:
    info = hub.identity.accounts.get_user(username)
    return Principal(PrincipalKind.USER, user_id=info.id, username=info.username)


def _publish(hub: Hub, client: TestClient) -> dict[str, str]:
    """alice owns her namespace and the organization acme, where acme/filter has two
    versions, a star, a download, a team grant and immutable tags; bob owns bob."""
    alice = make_user(hub, "alice", owns=("acme",))
    make_user(hub, "bob")
    digests = {tag: push(hub, "acme/filter", tag,
                         packed_plugin("filter", tag, en="Filter", description="moves"))
               for tag in ("1.0.0", "2.0.0")}
    owner = _person(hub, "alice")
    hub.identity.orgs.create_team(owner, "acme", "devs")
    hub.identity.orgs.grant(owner, "acme", "devs", "acme/filter", "write")
    hub.identity.orgs.set_repository_policy(owner, "acme/filter", tag_immutable=True)
    assert client.put("/api/v1/plugins/acme/filter/star", headers=alice).status_code == 200
    assert CatalogService(hub).count_download("acme/filter", digests["1.0.0"], "1.0.0")
    return digests


def _bearer(client: TestClient, username: str, repository: str) -> dict[str, str]:
    """A registry JWT of ``username`` for pulls of ``repository`` (the token endpoint)."""
    r = client.get("/auth/token", params={"service": "wasmhub",
                                          "scope": f"repository:{repository}:pull"},
                   headers=basic_headers(username))
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _transfer(client: TestClient, source: str, to: str, headers: dict[str, str]) -> Any:
    return client.post(f"/api/v1/plugins/{source}/transfer", json={"to_namespace": to},
                       headers=headers)


def _unchanged(client: TestClient, digests: dict[str, str]) -> None:
    tags = client.get("/v2/acme/filter/tags/list")
    assert tags.status_code == 200 and tags.json()["tags"] == ["1.0.0", "2.0.0"]
    detail = client.get("/api/v1/plugins/acme/filter").json()
    assert (detail["stars"], len(detail["versions"])) == (1, 2) and detail["downloads"] >= 1
    manifest = client.get("/v2/acme/filter/manifests/2.0.0", headers=ACCEPT)
    assert manifest.headers["docker-content-digest"] == digests["2.0.0"]


def test_owner_of_both_moves_a_pushed_plugin(secure_hub: Hub, secure_client: TestClient
                                             ) -> None:
    client = secure_client
    digests = _publish(secure_hub, client)
    layer = client.get("/v2/acme/filter/manifests/1.0.0", headers=ACCEPT).json()["layers"][0]
    before = client.get("/api/v1/plugins/acme/filter").json()

    moved = _transfer(client, "acme/filter", "alice", basic_headers("alice"))
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"source": "acme/filter", "destination": "alice/filter",
                            "tags": 2, "versions": 2, "signatures_dropped": 0}

    # The catalog moved with its user state.
    assert client.get("/api/v1/plugins/acme/filter").status_code == 404
    detail = client.get("/api/v1/plugins/alice/filter").json()
    assert (detail["namespace"], detail["stars"]) == ("alice", 1)
    assert detail["downloads"] == before["downloads"] > 0
    assert {v["tag"]: v["downloads"] for v in detail["versions"]} == {
        v["tag"]: v["downloads"] for v in before["versions"]}
    assert sorted(v["tag"] for v in detail["versions"]) == ["1.0.0", "2.0.0"]
    page = client.get("/plugins/alice/filter")
    assert page.status_code == 200 and "2.0.0" in page.text
    assert client.get("/plugins/acme/filter").status_code == 404
    found = client.get("/api/v1/plugins", params={"q": "moves"}).json()
    assert [(p["namespace"], p["name"]) for p in found["items"]] == [("alice", "filter")]

    # The registry serves it under the new name only.
    tags = client.get("/v2/alice/filter/tags/list")
    assert tags.status_code == 200 and tags.json() == {"name": "alice/filter",
                                                       "tags": ["1.0.0", "2.0.0"]}
    for tag, digest in digests.items():
        pulled = client.get(f"/v2/alice/filter/manifests/{tag}", headers=ACCEPT)
        assert pulled.status_code == 200 and pulled.headers["docker-content-digest"] == digest
        assert client.get(f"/v2/alice/filter/manifests/{digest}",
                          headers=ACCEPT).status_code == 200
    blob = client.get(f"/v2/alice/filter/blobs/{layer['digest']}")
    assert blob.status_code == 200 and len(blob.content) == layer["size"]
    # Anonymous callers get the registry's challenge; alice, the owner, gets NAME_UNKNOWN.
    assert client.get("/v2/acme/filter/tags/list").status_code == 401
    old = _bearer(client, "alice", "acme/filter")
    gone = client.get("/v2/acme/filter/tags/list", headers=old)
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert client.get("/v2/acme/filter/manifests/1.0.0",
                      headers={**ACCEPT, **old}).status_code == 404
    assert client.get(f"/v2/acme/filter/blobs/{layer['digest']}",
                      headers=old).status_code == 404

    # Identity: the policy travels, grants of the old namespace's teams do not.
    assert secure_hub.identity.orgs.repository_policy("alice/filter").tag_immutable
    assert not secure_hub.identity.orgs.repository_policy("acme/filter").tag_immutable
    owner = _person(secure_hub, "alice")
    assert secure_hub.identity.orgs.info(owner, "acme").teams[0].grants == {}

    # Audited in both namespaces, with from and to.
    for namespace in ("acme", "alice"):
        entries = client.get(f"/api/v1/namespaces/{namespace}/audit",
                             params={"action": "transfer"}, headers=basic_headers("alice"))
        assert entries.status_code == 200
        [entry] = entries.json()
        assert entry["actor"] == "alice" and entry["outcome"] == "success"
        assert entry["detail"]["from"] == "acme/filter"
        assert entry["detail"]["to"] == "alice/filter"

    # A new push to the old name makes a new, separate repository.
    push(secure_hub, "acme/filter", "9.0.0", packed_plugin("filter", "9.0.0", en="New"))
    assert client.get("/v2/acme/filter/tags/list").json()["tags"] == ["9.0.0"]
    assert client.get("/v2/alice/filter/tags/list").json()["tags"] == ["1.0.0", "2.0.0"]


def test_owner_of_only_one_namespace_is_refused(secure_hub: Hub, secure_client: TestClient
                                               ) -> None:
    client = secure_client
    digests = _publish(secure_hub, client)
    # bob owns the destination, not the source; alice owns the source, not bob's.
    refused = _transfer(client, "acme/filter", "bob", basic_headers("bob"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert _transfer(client, "acme/filter", "bob", basic_headers("alice")).status_code == 403
    # A maintainer of acme may push and configure, not move it out.
    make_user(secure_hub, "mia")
    owner = _person(secure_hub, "alice")
    secure_hub.identity.orgs.invite(owner, "acme", "mia", "maintainer")
    secure_hub.identity.orgs.answer_invitation(_person(secure_hub, "mia"), "acme", True)
    assert _transfer(client, "acme/filter", "mia", basic_headers("mia")).status_code == 403
    # Anonymous callers must sign in.
    assert _transfer(client, "acme/filter", "alice", {}).status_code == 401
    _unchanged(client, digests)
    for name in ("bob", "mia"):
        assert client.get(f"/v2/{name}/filter/tags/list",
                          headers=_bearer(client, name, f"{name}/filter")).status_code == 404
        assert client.get(f"/api/v1/plugins/{name}/filter").status_code == 404
    assert secure_hub.identity.audit.entries(action="transfer") == []


def test_a_private_plugin_is_not_found_for_who_cannot_read_it(secure_hub: Hub,
                                                              secure_client: TestClient
                                                              ) -> None:
    _publish(secure_hub, secure_client)
    owner = _person(secure_hub, "alice")
    secure_hub.identity.orgs.set_repository_policy(owner, "acme/filter", private=True)
    refused = _transfer(secure_client, "acme/filter", "bob", basic_headers("bob"))
    assert refused.status_code == 404
    assert _transfer(secure_client, "acme/nothing", "alice",
                     basic_headers("alice")).status_code == 404
    # The owner moves it; it stays private under the new name.
    assert _transfer(secure_client, "acme/filter", "alice",
                     basic_headers("alice")).status_code == 200
    assert secure_hub.identity.orgs.repository_policy("alice/filter").private
    assert secure_client.get("/api/v1/plugins/alice/filter").status_code == 404
    assert secure_client.get("/api/v1/plugins/alice/filter",
                             headers=basic_headers("alice")).status_code == 200


def test_existing_destination_is_a_conflict_and_nothing_changes(
        secure_hub: Hub, secure_client: TestClient) -> None:
    client = secure_client
    digests = _publish(secure_hub, client)
    mine = push(secure_hub, "alice/filter", "0.1.0",
                packed_plugin("filter", "0.1.0", en="Mine"))
    conflict = _transfer(client, "acme/filter", "alice", basic_headers("alice"))
    assert conflict.status_code == 409, conflict.text
    assert "alice/filter" in conflict.json()["detail"]
    _unchanged(client, digests)
    assert client.get("/v2/alice/filter/tags/list").json()["tags"] == ["0.1.0"]
    assert client.get("/v2/alice/filter/manifests/0.1.0",
                      headers=ACCEPT).headers["docker-content-digest"] == mine
    assert secure_hub.identity.orgs.repository_policy("acme/filter").tag_immutable
    assert secure_hub.identity.audit.entries(action="transfer") == []


def test_bad_names_are_input_errors(secure_hub: Hub, secure_client: TestClient) -> None:
    digests = _publish(secure_hub, secure_client)
    for to in ("Not A Name", "acme", "a/b", "-x"):
        bad = _transfer(secure_client, "acme/filter", to, basic_headers("alice"))
        assert bad.status_code == 400, (to, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
    _unchanged(secure_client, digests)


def test_the_settings_page_form_transfers_with_its_csrf_token(
        secure_hub: Hub, secure_client: TestClient) -> None:
    client = secure_client
    _publish(secure_hub, client)
    csrf = sign_in(client, "carol")  # carol owns only her namespace
    form = {"csrf_token": csrf, "action": "transfer", "to_namespace": "carol"}
    assert client.post("/settings/plugins/acme/filter", data=form).status_code == 403
    client.cookies.clear()
    session = secure_hub.identity.accounts.start_session(
        secure_hub.identity.accounts.get_user("alice").id, "testclient")
    client.cookies.set("wasmhub_session", session.cookie)
    page = client.get("/settings/plugins/acme/filter")
    assert page.status_code == 200 and 'id="plugin-transfer-form"' in page.text
    without = client.post("/settings/plugins/acme/filter",
                          data={"action": "transfer", "to_namespace": "alice"})
    assert without.status_code == 403
    assert client.get("/v2/acme/filter/tags/list").status_code == 200
    refused = client.post("/settings/plugins/acme/filter", data={
        "csrf_token": session.csrf_token, "action": "transfer", "to_namespace": "nobody"})
    assert refused.status_code == 403 and "nobody" in refused.text
    done = client.post("/settings/plugins/acme/filter", data={
        "csrf_token": session.csrf_token, "action": "transfer", "to_namespace": "alice"},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/plugins/alice/filter"
    assert client.get("/v2/alice/filter/tags/list").json()["tags"] == ["1.0.0", "2.0.0"]
