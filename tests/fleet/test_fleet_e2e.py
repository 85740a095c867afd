"""Must show (issue 12): real Envoy 1.40 proxies follow a fleet deployment over ECDS.

Three Envoys (delta xDS, state of the world, ADS) bootstrapped from ``wasmhub deploy envoy
--xds`` output get the add-header sample from a running ``wasmhub serve --xds-port``; a new
revision changes every proxy's responses without restarting any (same PIDs); broken
revisions (a module that traps in ``proxy_on_configure``; served bytes that do not match
the sha256) are NACKed, halt a staged rollout and leave the previous filter serving; an
Envoy and then the hub are killed and restarted. The tests run in order on shared state.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from .conftest import FleetHub, Proxy, wait_for

pytestmark = pytest.mark.slow
RESOURCE = "wasmhub/library/edge-headers"
PATH = "/fleet/deployments/library/edge-headers"


def powered_by(proxy: Proxy) -> str | None:
    response = proxy.get()
    assert response.status_code == 200, (response.status_code, response.text)
    return response.headers.get("x-powered-by")


def config_of(node: dict[str, Any]) -> dict[str, Any]:
    [config] = [c for c in node["configs"] if c["resource"] == RESOURCE]
    return config


def set_revision(hub: FleetHub, *, config: Any = None, plugin: dict[str, Any] | None = None,
                 stage: dict[str, Any] | None = None) -> dict[str, Any]:
    current = hub.api("GET", PATH)
    spec = dict((current["candidate"] or current["stable"])["spec"])
    spec["config"] = config
    if plugin is not None:
        spec["plugin"] = {**spec["plugin"], **plugin}
        spec["plugin"].pop("digest", None)
        spec["plugin"].pop("moduleSha256", None)
    return hub.api("PUT", PATH, {"spec": spec, "stage": stage})  # type: ignore[no-any-return]


def headers(value: str) -> dict[str, Any]:
    return {"response_headers_to_add": {"x-powered-by": value}}


def test_three_envoys_follow_the_deployment_without_restarting(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    pids = [p.pid for p in proxies]
    for proxy in proxies:  # the plugin's example config: x-powered-by: wasmhub
        wait_for(f"{proxy.node_id} serves the filter", lambda p=proxy: powered_by(p) == "wasmhub")
    view = wait_for("three nodes ACK revision 1", lambda: (
        v := fleet_hub.api("GET", PATH))["state"] == "complete" and len(
        [n for n in v["nodes"] if config_of(n)["acked_revision"] == 1]) == 3 and v)
    assert {n["node_id"] for n in view["nodes"]} == {"node-1", "node-2", "node-3"}
    for node in view["nodes"]:
        assert node["envoy_version"].startswith("1.40.")
        assert node["cluster"] == "edge" and node["locality"] == {"zone": "zone-a"}
        assert node["connected"] and not node["stale"]

    started = time.monotonic()
    changed = set_revision(fleet_hub, config=headers("wasmhub-v2"))
    revision = changed["candidate"]["revision"]
    wait_for("every node ACKs the new revision", lambda: all(
        config_of(n)["acked_revision"] == revision
        for n in fleet_hub.api("GET", PATH)["nodes"]))
    last_ack = time.monotonic() - started
    print(f"\nfleet: change -> last ACK of 3 Envoys: {last_ack:.2f}s")
    for proxy in proxies:
        wait_for(f"{proxy.node_id} serves v2", lambda p=proxy: powered_by(p) == "wasmhub-v2")
    assert [p.pid for p in proxies] == pids
    assert all(p.process is not None and p.process.poll() is None for p in proxies)
    assert fleet_hub.api("GET", PATH)["stable"]["revision"] == revision

    # The same view from the real executable.
    shown = json.loads(fleet_hub.cli("status", "--envoy", "--json").stdout)
    assert shown["xds"] == {"enabled": True, "address": f"127.0.0.1:{fleet_hub.xds_port}"}
    assert {n["node_id"] for n in shown["nodes"]} >= {"node-1", "node-2", "node-3"}
    text = fleet_hub.cli("rollout", "status", "edge-headers").stdout
    assert f"{RESOURCE}: complete" in text and "node-3" in text


def test_a_trapping_module_is_nacked_and_halts_the_staged_rollout(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    stable = fleet_hub.api("GET", PATH)["stable"]["revision"]
    started = set_revision(fleet_hub, plugin={"repository": "library/trap-configure",
                                              "tag": "0.1.0"}, stage={"nodes": ["node-1"]})
    bad = started["candidate"]["revision"]
    assert started["stage_nodes"] == ["node-1"]
    view = wait_for("the rollout halts", lambda: (
        v := fleet_hub.api("GET", PATH))["state"] == "halted" and v)
    nodes = {n["node_id"]: config_of(n) for n in view["nodes"]}
    assert nodes["node-1"]["nacked_revision"] == bad
    assert nodes["node-1"]["nack_error"]  # Envoy's words, per node
    assert "NACKed by node-1" in view["message"]
    for other in ("node-2", "node-3"):  # never sent: the stage was node-1 only
        assert nodes[other]["nacked_revision"] is None
        assert nodes[other]["acked_revision"] == stable
    assert view["stable"]["revision"] == stable and view["candidate"] is None
    for proxy in proxies:  # the previous filter keeps serving everywhere
        assert powered_by(proxy) == "wasmhub-v2"


def test_a_sha256_mismatch_is_nacked_and_the_previous_filter_serves(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    stable = fleet_hub.api("GET", PATH)["stable"]["revision"]
    started = set_revision(fleet_hub, config=headers("wasmhub-v3"),
                           plugin={"tag": "0.2.0"}, stage={"percent": 33})
    bad = started["candidate"]["revision"]
    [first] = started["stage_nodes"]  # 33% of three connected nodes: one
    view = wait_for("the rollout halts", lambda: (
        v := fleet_hub.api("GET", PATH))["state"] == "halted" and v)
    nodes = {n["node_id"]: config_of(n) for n in view["nodes"]}
    assert nodes[first]["nacked_revision"] == bad and nodes[first]["nack_error"]
    assert all(c["acked_revision"] == stable for c in nodes.values())
    for proxy in proxies:
        assert powered_by(proxy) == "wasmhub-v2"
    log = next(p for p in proxies if p.node_id == first).log.read_text()
    assert "mismatch" in log.lower() or "sha256" in log.lower(), log[-3000:]


def test_rollout_undo_goes_back_to_the_revision_before(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    done = fleet_hub.cli("rollout", "undo", "edge-headers")
    assert "rolling out" in done.stdout
    for proxy in proxies:
        wait_for(f"{proxy.node_id} back on revision 1's config",
                 lambda p=proxy: powered_by(p) == "wasmhub")
    history = fleet_hub.api("GET", f"{PATH}/revisions")
    assert history[0]["reason"] == "undo" and history[0]["spec"]["config"] == \
        history[-1]["spec"]["config"]


def test_a_restarted_envoy_reconnects_and_gets_the_current_revision(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    changed = set_revision(fleet_hub, config=headers("wasmhub-v4"))
    revision = changed["candidate"]["revision"]
    for proxy in proxies:
        wait_for(f"{proxy.node_id} on v4", lambda p=proxy: powered_by(p) == "wasmhub-v4")
    victim = proxies[1]
    victim.stop(signal.SIGKILL)
    wait_for("the killed node is marked disconnected", lambda: not next(
        n for n in fleet_hub.api("GET", PATH)["nodes"] if n["node_id"] == victim.node_id
    )["connected"])
    assert any(n["node_id"] == victim.node_id and n["stale"]
               for n in fleet_hub.api("GET", "/fleet")["nodes"])  # kept, marked stale
    victim.start()
    wait_for("it serves the current revision", lambda: powered_by(victim) == "wasmhub-v4")
    wait_for("it ACKs the current revision again", lambda: (n := next(
        n for n in fleet_hub.api("GET", PATH)["nodes"] if n["node_id"] == victim.node_id
    ))["connected"] and config_of(n)["acked_revision"] == revision)


def test_envoys_keep_serving_while_the_hub_is_down_and_resubscribe(
        fleet_hub: FleetHub, proxies: list[Proxy]) -> None:
    pids = [p.pid for p in proxies]
    fleet_hub.kill()
    for proxy in proxies:
        assert powered_by(proxy) == "wasmhub-v4"
    fleet_hub.start()
    wait_for("every node resubscribes", lambda: len([
        n for n in fleet_hub.api("GET", PATH)["nodes"] if n["connected"] and not n["stale"]
    ]) == 3)
    changed = set_revision(fleet_hub, config=headers("wasmhub-v5"))
    for proxy in proxies:
        wait_for(f"{proxy.node_id} on v5", lambda p=proxy: powered_by(p) == "wasmhub-v5")
    wait_for("the rollout completes", lambda: fleet_hub.api("GET", PATH)["stable"][
        "revision"] == changed["candidate"]["revision"])
    assert [p.pid for p in proxies] == pids
