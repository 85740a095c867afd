"""REST v1 for Envoy fleets (in-process app, SQLite and PostgreSQL): who may read and write,
bad input answered 4xx problem+json (never a 500); and the fleet CLI verbs' error paths
in-process (tests/cli/helpers.py) against the hub served on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.cli.helpers import run
from tests.support.accounts import make_user, token_headers
from tests.support.hub_app import client
from tests.support.servers import serving_in_thread
from wasmhub.app import create_app
from wasmhub.errors import NotFoundError
from wasmhub.hub import Hub
from wasmhub.settings import Settings

from .fleet_support import fleet_world, module_variant, principal, publish, spec

__all__ = ["client"]
PATH = "/api/v1/fleet/deployments/acme/edge"


def document(**kwargs: Any) -> dict[str, Any]:
    return spec(**kwargs).model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.fixture
def hub_of(client: TestClient) -> Hub:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    world = fleet_world(hub)
    world.fleet.set(spec(), world.ops)
    make_user(hub, "sam", owns=("secret",))
    sam = principal(hub, "sam")
    hub.identity.orgs.set_namespace_private(sam, "secret", True)
    publish(hub, "1.0.0", module_variant("secret"), repository="secret/hdr")
    hub.fleet.set(spec(namespace="secret", repository="secret/hdr"), sam)
    make_user(hub, "eve")
    return hub


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_reads_are_public_for_a_public_namespace(client: TestClient, hub_of: Hub) -> None:
    view = client.get(PATH)
    assert view.status_code == 200 and view.json()["resource"] == "wasmhub/acme/edge"
    assert [r["revision"] for r in client.get(f"{PATH}/revisions").json()] == [1]
    fleet = client.get("/api/v1/fleet").json()
    assert fleet["xds"] == {"enabled": False, "address": None}
    assert [d["resource"] for d in fleet["deployments"]] == ["wasmhub/acme/edge"]


def test_writes_need_push_on_the_namespace(client: TestClient, hub_of: Hub) -> None:
    body = {"spec": document(config={"header": "x-b"})}
    problem(client.put(PATH, json=body), 401)
    problem(client.post(f"{PATH}/undo"), 401)
    eve = token_headers(hub_of, "eve")
    problem(client.put(PATH, json=body, headers=eve), 403)
    problem(client.post(f"{PATH}/undo", headers=eve), 403)
    assert [r["revision"] for r in client.get(f"{PATH}/revisions").json()] == [1]
    ops = token_headers(hub_of, "ops")
    changed = client.put(PATH, json=body, headers=ops)
    assert changed.status_code == 200, changed.text
    assert changed.json()["stable"]["revision"] == 2  # no node live: stable at once
    undone = client.post(f"{PATH}/undo", headers=ops)
    assert undone.status_code == 200 and undone.json()["stable"]["revision"] == 3


def test_a_private_namespace_is_404_to_non_readers(client: TestClient, hub_of: Hub) -> None:
    path = "/api/v1/fleet/deployments/secret/edge"
    for headers in ({}, token_headers(hub_of, "eve")):
        problem(client.get(path, headers=headers), 404)
        problem(client.get(f"{path}/revisions", headers=headers), 404)
        problem(client.post(f"{path}/undo", headers=headers), 404 if headers else 401)
        listed = client.get("/api/v1/fleet", headers=headers).json()
        assert [d["resource"] for d in listed["deployments"]] == ["wasmhub/acme/edge"]
    # Writing into it is refused alike (eve cannot tell it exists).
    problem(client.put(path, json={"spec": document(namespace="secret",
                                                     repository="secret/hdr")},
                       headers=token_headers(hub_of, "eve")), 404)
    sam = token_headers(hub_of, "sam")
    assert client.get(path, headers=sam).status_code == 200
    # ops may push to acme, but a deployment there may not name a plugin ops cannot read.
    problem(client.put(PATH, json={"spec": document(repository="secret/hdr")},
                       headers=token_headers(hub_of, "ops")), 404)


@pytest.mark.parametrize(("body", "status"), [
    ({}, 422),
    ({"spec": "edge"}, 422),
    ({"spec": {}}, 400),
    ({"spec": {"platform": "envoy"}}, 400),
    ({"spec": {"apiVersion": "wasmhub.dev/v1", "kind": "Nope"}}, 400),
    ({"spec": {"apiVersion": "wasmhub.dev/v1", "kind": "PluginDeployment", "spec": "x"}}, 400),
    ({"spec": {"apiVersion": "wasmhub.dev/v1", "kind": "PluginDeployment", "spec": [1]}}, 400),
    ({"spec": {"apiVersion": "x", "spec": None}}, 400),
    ({"spec": {"apiVersion": "wasmhub.dev/v1", "kind": "Nope", "spec": document()}}, 400),
    ({"spec": document(platform="istio")}, 400),
    ({"spec": document(codeSource="oci")}, 400),
    ({"spec": document(tag="9.9.9")}, 404),
    ({"spec": document(), "stage": {"percent": 0}}, 422),
    ({"spec": document(), "stage": {"percent": 5, "nodes": ["a"]}}, 400),
    ({"spec": document(), "stage": {"nodes": [""]}}, 400),
    ({"spec": document(), "stage": {"nodes": ["x" * 300]}}, 400),
    ({"spec": document(), "follow_tag": "maybe"}, 422),
    ({"spec": document(tag=None, plugin={"digest": "sha256:" + "0" * 64})}, 404),
])
def test_bad_input_is_a_4xx_problem(client: TestClient, hub_of: Hub, body: Any,
                                    status: int) -> None:
    ops = token_headers(hub_of, "ops")
    problem(client.put(PATH, json=body, headers=ops), status)
    assert [r["revision"] for r in client.get(f"{PATH}/revisions").json()] == [1]


def test_bad_paths_and_unknown_deployments(client: TestClient, hub_of: Hub) -> None:
    ops = token_headers(hub_of, "ops")
    problem(client.get("/api/v1/fleet/deployments/acme/nope"), 404)
    problem(client.get("/api/v1/fleet/deployments/acme/nope/revisions"), 404)
    problem(client.post("/api/v1/fleet/deployments/acme/nope/undo", headers=ops), 404)
    problem(client.get("/api/v1/fleet/deployments/Acme/edge"), 422)
    problem(client.get("/api/v1/fleet/deployments/acme/" + "e" * 64), 422)
    problem(client.put("/api/v1/fleet/deployments/acme/Bad_Name", json={"spec": document()},
                       headers=ops), 422)
    problem(client.put(PATH, content=b"{not json", headers={
        **ops, "content-type": "application/json"}), 422)
    problem(client.post(f"{PATH}/undo", headers=ops), 409)  # nothing before revision 1
    assert client.get("/api/v1/fleet?namespace=" + "n" * 64).status_code == 422


# -- CLI, in-process, against the app served on loopback --------------------------------


@pytest.fixture
def served(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[str]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    app = create_app(settings)
    hub: Hub = app.state.hub
    try:
        world = fleet_world(hub)
        world.fleet.set(spec(), world.ops)
        with serving_in_thread(app, "fleet-hub") as url:
            yield url
    finally:
        hub.close()


def test_cli_rollout_verbs_and_their_errors(served: str) -> None:
    shown = run("rollout", "status", "edge", "-n", "acme", "--hub", served)
    assert shown.exit_code == 0, shown.stderr
    assert "wasmhub/acme/edge: complete" in shown.stdout
    assert "no node has subscribed yet" in shown.stdout
    history = run("rollout", "history", "edge", "-n", "acme", "--hub", served, "--json")
    assert [r["revision"] for r in json.loads(history.stdout)] == [1]
    missing = run("rollout", "status", "nope", "-n", "acme", "--hub", served)
    assert missing.exit_code != 0 and isinstance(missing.exception, NotFoundError)
    assert "nope" in str(missing.exception)
    anonymous = run("rollout", "undo", "edge", "-n", "acme", "--hub", served)
    assert anonymous.exit_code != 0 and anonymous.exception is not None
    assert "not logged in" in str(anonymous.exception)
    status = run("status", "--envoy", "--hub", served)
    assert status.exit_code == 0, status.stderr
    assert "xDS: off (serve --xds-port)" in status.stdout
    assert "wasmhub/acme/edge" in status.stdout and "no Envoy has connected" in status.stdout


def test_cli_deploy_fleet_option_errors(served: str) -> None:
    ref = f"{served.removeprefix('http://')}/acme/hdr:1.0.0"
    no_xds = run("deploy", "envoy", ref, "--stage-percent", "10", "--hub", served)
    assert no_xds.exit_code == 2 and "--xds" in no_xds.stderr
    wrong = run("deploy", "istio", ref, "--xds", "--hub", served)
    assert wrong.exit_code == 2 and "platform envoy" in wrong.stderr
    off = run("deploy", "envoy", ref, "--xds", "--hub", served)
    assert off.exit_code != 0 and off.exception is not None
    assert "serves no xDS" in str(off.exception)
    mode = run("deploy", "envoy", ref, "--xds", "--xds-mode", "carrier-pigeon",
               "--xds-address", "127.0.0.1:18000", "--hub", served)
    assert mode.exit_code != 0
    assert "carrier-pigeon" in (str(mode.exception) + mode.stderr)
