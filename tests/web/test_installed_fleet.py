"""The Installed page's Envoy fleet section (``envoy-fleet``), in-process on SQLite and
PostgreSQL. Fleet state is made through FleetService (``set``) and the ``node_*`` methods
the xDS server calls (tests/web/fleet_seed.py); the gRPC server itself is not running here
(tests/fleet runs it with real Envoys): the page reads only the database and the
``xds_port`` setting."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support.accounts import sign_in
from tests.web.fleet_seed import (
    NACK_TEXT,
    NODE_A,
    ack,
    connect,
    person,
    publish,
    seed_fleet,
    set_deployment,
)
from wasmhub.app import create_app
from wasmhub.fleet.service import Stage
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.web import installed

XDS = 18000


def _client(tmp_path: Path, database_url: str, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(
        data_dir=tmp_path / "data", database_url=database_url, open_namespaces=True,
        **settings)), raise_server_exceptions=False)  # type: ignore[arg-type]


def _hub(client: TestClient) -> Hub:
    return client.app.state.hub  # type: ignore[attr-defined,no-any-return]


def _section(html: str) -> str:
    match = re.search(r'<section[^>]*data-section="envoy-fleet".*?</section>', html, re.S)
    assert match, "no envoy-fleet section"
    return html_lib.unescape(match.group(0))


def _deployments(section: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<article class="fleet-deployment" data-fleet="([^"]+)".*?</article>', section, re.S)}


def _nodes(deployment: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<tr data-node="([^"]+)".*?</tr>', deployment, re.S)}


def _cell(row: str, name: str) -> str:
    match = re.search(rf"<td data-{name}>(.*?)</td>", row, re.S)
    assert match, (name, row)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_deployments_nodes_acks_nack_and_stale(tmp_path: Path, database_url: str) -> None:
    with _client(tmp_path, database_url, xds_port=XDS) as client:
        seed_fleet(_hub(client))
        response = client.get("/installed/acme/hdr")
        assert response.status_code == 200
        section = _section(response.text)
        assert f"xDS (ECDS) server: 127.0.0.1:{XDS}" in section
        found = _deployments(section)
        assert set(found) == {"acme/canary", "acme/edge"}  # not acme/unrelated (acme/other)

        edge = found["acme/edge"]
        assert 'data-state="halted"' in edge and "wasmhub/acme/edge" in edge
        assert "pinned to 1.0.0" in edge  # halted: the candidate was withdrawn
        assert re.search(r"data-fleet-stable>revision 1 · 1\.0\.0", edge)
        assert "halted: NACKed by edge-b" in edge and "revision 1 keeps serving" in edge
        nodes = _nodes(edge)
        assert list(nodes) == ["edge-a", "edge-b", "edge-c"]
        a, b, c = nodes["edge-a"], nodes["edge-b"], nodes["edge-c"]
        assert "eu-west/zone-a" in a and ">edge<" in a and "1.40.0" in a
        assert _cell(a, "acked").startswith("revision 1 · 1.0.0")
        assert _cell(a, "nack") == "—" and _cell(a, "connection") == "connected"
        assert _cell(b, "acked").startswith("revision 1 · 1.0.0")  # still runs revision 1
        assert _cell(b, "nack").startswith(f"revision 2 refused {NACK_TEXT}")
        assert "data-stale" in c and "data-stale" not in a + b
        assert re.fullmatch(r"stale last seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
                            _cell(c, "connection"))
        assert "zone-c" in c and ">batch<" in c

        canary = found["acme/canary"]
        assert 'data-state="rolling"' in canary and "follows tag 1.1.0" in canary
        assert "candidate: revision 2 · 1.1.0" in canary and "every node at once" in canary
        assert _cell(_nodes(canary)["edge-a"], "acked").startswith("revision 1 · 1.1.0")
        assert "edge-b" not in _nodes(canary)  # never subscribed to it

        chinese = _section(client.get("/installed/acme/hdr?lang=zh").text)
        assert "Envoy 代理集群（xDS）" in chinese and "已中止" in chinese
        assert "修订 2 被拒绝" in chinese and "已失联" in chinese and NACK_TEXT in chinese


def test_a_staged_rollout_names_its_stage_and_a_promotion(
        tmp_path: Path, database_url: str) -> None:
    with _client(tmp_path, database_url, xds_port=XDS) as client:
        hub = _hub(client)
        alice = person(hub, "alice", owns=("acme",))
        publish(hub, "acme/hdr", "1.0.0", "1.1.0")
        resource = "wasmhub/acme/edge"
        connect(hub.fleet, NODE_A, resource)  # Envoy subscribes before the deployment exists
        set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.0.0")
        page = _deployments(_section(client.get("/installed/acme/hdr").text))["acme/edge"]
        assert 'data-state="rolling"' in page and "none yet" in page
        assert "candidate: revision 1 · 1.0.0" in page
        assert _cell(_nodes(page)["edge-a"], "acked") == "—"
        ack(hub.fleet, NODE_A, resource)
        page = _deployments(_section(client.get("/installed/acme/hdr").text))["acme/edge"]
        assert 'data-state="promoted"' in page and "candidate" not in page
        assert "revision 1 ACKed by 1 node(s)" in page

        set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.1.0",
                       stage=Stage(nodes=(NODE_A.node_id,)))
        page = _deployments(_section(client.get("/installed/acme/hdr").text))["acme/edge"]
        assert 'data-state="rolling"' in page
        assert "candidate: revision 2 · 1.1.0" in page
        assert "first stage: 1 named node(s)" in page
        ack(hub.fleet, NODE_A, resource)  # the stage ACKed, then every node: promoted
        page = _deployments(_section(client.get("/installed/acme/hdr").text))["acme/edge"]
        assert 'data-state="promoted"' in page
        assert re.search(r"data-fleet-stable>revision 2 · 1\.1\.0", page)
        assert _cell(_nodes(page)["edge-a"], "acked").startswith("revision 2 · 1.1.0")


def test_no_deployments_shows_the_command(tmp_path: Path, database_url: str) -> None:
    with _client(tmp_path, database_url, xds_port=XDS) as client:
        hub = _hub(client)
        publish(hub, "acme/hdr", "1.0.0", "1.1.0")
        section = _section(client.get("/installed/acme/hdr").text)
        assert "No fleet deployments of this plugin" in section
        assert ('<code id="fleet-deploy-command">wasmhub deploy envoy '
                '127.0.0.1:5080/acme/hdr:1.1.0 --xds --apply</code>') in section
        assert "fleet-deployment" not in section and "xDS server is off" not in section


def test_xds_off_names_the_setting(tmp_path: Path, database_url: str) -> None:
    with _client(tmp_path, database_url) as client:
        hub = _hub(client)
        alice = person(hub, "alice", owns=("acme",))
        publish(hub, "acme/hdr", "1.0.0")
        section = _section(client.get("/installed/acme/hdr").text)
        assert "xDS server is off" in section and "xds_port" in section
        assert "WASMHUB_XDS_PORT" in section and "--xds-port" in section
        assert 'role="status"' in section and "fleet-deploy-command" not in section
        # Deployments stored while the server is off are listed, with the warning.
        set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.0.0")
        section = _section(client.get("/installed/acme/hdr").text)
        assert 'role="alert"' in section and "not served to any Envoy" in section
        assert set(_deployments(section)) == {"acme/edge"}
        assert "No Envoy node has subscribed to wasmhub/acme/edge yet." in section


def test_fleet_read_permission(tmp_path: Path, database_url: str) -> None:
    """Deployments in a private namespace show only to its readers; a private plugin's
    page is 404 to non-readers and shows its fleet to readers."""
    with _client(tmp_path, database_url, xds_port=XDS) as client:
        hub = _hub(client)
        alice = person(hub, "alice", owns=("acme",))
        bob = person(hub, "bob", owns=("ops",))
        publish(hub, "acme/hdr", "1.0.0")
        publish(hub, "acme/secret", "1.0.0")
        set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.0.0")
        set_deployment(hub, bob, "ops", "gateway", "acme/hdr", "1.0.0")
        hub.identity.orgs.set_namespace_private(bob, "ops", True)
        set_deployment(hub, alice, "acme", "hidden", "acme/secret", "1.0.0")
        hub.identity.orgs.set_repository_policy(alice, "acme/secret", private=True)

        anonymous = _section(client.get("/installed/acme/hdr").text)
        assert set(_deployments(anonymous)) == {"acme/edge"}
        assert "ops/gateway" not in anonymous
        assert client.get("/installed/acme/secret").status_code == 404

        sign_in(client, "otto")
        assert set(_deployments(_section(client.get("/installed/acme/hdr").text))) == {
            "acme/edge"}
        assert client.get("/installed/acme/secret").status_code == 404

        session = hub.identity.accounts.start_session(bob.user_id or 0, "testclient")
        client.cookies.set("wasmhub_session", session.cookie)
        assert set(_deployments(_section(client.get("/installed/acme/hdr").text))) == {
            "acme/edge", "ops/gateway"}

        session = hub.identity.accounts.start_session(alice.user_id or 0, "testclient")
        client.cookies.set("wasmhub_session", session.cookie)
        secret = client.get("/installed/acme/secret")
        assert secret.status_code == 200
        assert set(_deployments(_section(secret.text))) == {"acme/hidden"}


def test_a_long_node_list_keeps_the_nodes_with_problems(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installed, "MAX_FLEET_NODES", 2)
    with _client(tmp_path, database_url, xds_port=XDS) as client:
        seed_fleet(_hub(client))
        edge = _deployments(_section(client.get("/installed/acme/hdr").text))["acme/edge"]
        assert list(_nodes(edge)) == ["edge-b", "edge-c"]  # the NACK and the stale one
        assert "And 1 more node(s) without problems" in edge
        assert "wasmhub status --envoy" in edge
