"""The real ECDS/ADS gRPC server (:class:`~wasmhub.fleet.server.XdsServer`, in-process on
loopback, and ``wasmhub serve --xds-port`` for the crash test) driven by a Python xDS client
(tests/fleet/xds_client.py) acting as Envoy nodes, on SQLite and PostgreSQL.

Pinned here: versions are revision numbers and every response has a fresh nonce; an ACK
(same nonce and version) and a NACK (``error_detail``, after the server's retries) are
reported per node; reconnects (state of the world resends, delta with
``initial_resource_versions`` does not); stale marking when the hub dies; the stream limit;
unknown names (delta: ``removed_resources``; state of the world: left out); a node whose
Envoy is too old gets nothing and its status says why; and the server has no
authentication: a private namespace's config is served to whoever names it, never to a
wildcard subscription (docs/deploy.md: the xDS port must be reachable by the proxies only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from tests.support.accounts import make_user
from tests.support.servers import free_port, running_wasmhub
from wasmhub.fleet.server import NACK_ATTEMPTS, XdsServer
from wasmhub.fleet.service import REVISION_ENV
from wasmhub.hub import Hub
from wasmhub.settings import Settings

from .fleet_support import (
    NAMESPACE,
    RESOURCE,
    FleetWorld,
    fleet_world,
    module_variant,
    principal,
    publish,
    spec,
)
from .xds_client import ECDS_TYPE, StreamEnded, XdsClient, config_of

STALE = 5.0  # the smallest xds_stale_seconds: heartbeats every 1.25 s
WAIT = 120.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"xds_stale_seconds": STALE, "xds_poll_seconds": 0.2})


@pytest.fixture
def world(hub: Hub) -> FleetWorld:
    out = fleet_world(hub)
    out.fleet.set(spec(), out.ops)
    return out


def start_server(hub: Hub, max_streams: int = 100, max_names: int = 100) -> XdsServer:
    server = XdsServer(hub.fleet, "127.0.0.1", free_port(), poll_seconds=0.2,
                       max_streams=max_streams, max_names=max_names, stale_seconds=STALE)
    server.start()
    return server


@pytest.fixture
def xds(hub: Hub, world: FleetWorld) -> Iterator[XdsServer]:
    server = start_server(hub)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clients() -> Iterator[Callable[..., XdsClient]]:
    made: list[XdsClient] = []

    def make(*args: Any, **kwargs: Any) -> XdsClient:
        made.append(XdsClient(*args, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f}s (last: {last!r})")


def node_config(world: FleetWorld, node_id: str, resource: str = RESOURCE) -> Any:
    name = resource.rsplit("/", 1)[1]
    view = world.fleet.get(resource.split("/")[1], name, world.ops)
    for node in view.nodes:
        if node.node_id == node_id:
            [config] = node.configs
            return node, config
    return None, None


def acked(world: FleetWorld, node_id: str, revision: int) -> bool:
    _, config = node_config(world, node_id)
    return config is not None and config.acked_revision == revision


def env_of(wasm: Any) -> dict[str, str]:
    return dict(wasm.config.vm_config.environment_variables.key_values)


@pytest.mark.parametrize("mode", ["sotw", "ads"])
def test_state_of_the_world_versions_nonces_ack_and_nack(
        world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient], mode: str) -> None:
    client = clients(xds.port, "n1", mode)
    client.subscribe(RESOURCE)
    first = client.next()
    assert first.type_url == ECDS_TYPE and first.nonce and first.version_info == "1"
    name, version, wasm = config_of(first)
    assert name == RESOURCE and version == "1"
    remote = wasm.config.vm_config.code.remote
    stable = world.fleet.get(NAMESPACE, "edge", world.ops).stable
    assert stable is not None
    assert remote.sha256 == stable.module_sha256
    assert remote.http_uri.uri.endswith(f"/modules/sha256:{stable.module_sha256}.wasm")
    assert env_of(wasm)[REVISION_ENV] == "1"
    client.ack(first, [RESOURCE])
    wait_for("n1's ACK of revision 1 is recorded", lambda: acked(world, "n1", 1))
    node, _ = node_config(world, "n1")
    assert node.envoy_version == "1.40.0" and node.cluster == "edge"
    assert node.locality == {"region": "eu", "zone": "zone-a"}
    assert node.connected and not node.stale

    world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    second = client.next()
    assert second.version_info == "2" and second.nonce != first.nonce
    # NACK every attempt: the server resends the same revision (a fetch still running
    # NACKs like a broken module), each time with a new nonce and a config that differs
    # (else Envoy would ACK it unloaded), then reports the NACK and halts the rollout.
    nonces = {first.nonce, second.nonce}
    response = second
    for attempt in range(NACK_ATTEMPTS + 2):
        assert response.version_info == "2", response
        assert env_of(config_of(response)[2])[REVISION_ENV] == (
            f"2.{attempt}" if attempt else "2")
        client.nack(response, [RESOURCE], "Unable to create Wasm HTTP filter: boom",
                    last_good="1")
        response = client.next()
        assert response.nonce not in nonces
        nonces.add(response.nonce)
        if response.version_info != "2":
            break
    assert response.version_info == "1"  # the stable revision again: halted
    assert attempt == NACK_ATTEMPTS - 1
    view = world.fleet.get(NAMESPACE, "edge", world.ops)
    assert view.state == "halted" and "NACKed by n1" in view.message
    _, config = node_config(world, "n1")
    assert config.nacked_revision == 2 and "boom" in config.nack_error
    client.ack(response, [RESOURCE])
    wait_for("n1 ACKs revision 1 again", lambda: acked(world, "n1", 1))


@pytest.mark.parametrize("mode", ["delta", "ads-delta"])
def test_delta_versions_reconnect_and_initial_versions(
        world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient], mode: str) -> None:
    client = clients(xds.port, "d1", mode)
    client.subscribe(RESOURCE)
    first = client.next()
    [resource] = first.resources
    assert first.type_url == ECDS_TYPE and first.nonce
    assert resource.name == RESOURCE and resource.version == "1"
    client.ack(first, [RESOURCE])
    wait_for("d1's ACK", lambda: acked(world, "d1", 1))
    client.close()
    wait_for("d1 is marked disconnected and stale, not dropped", lambda: (
        n := node_config(world, "d1")[0]) is not None and not n.connected and n.stale)

    again = clients(xds.port, "d1", mode)
    again.subscribe(RESOURCE, initial={RESOURCE: "1"})  # it has revision 1 already
    wait_for("d1 is connected again", lambda: node_config(world, "d1")[0].connected)
    world.fleet.set(spec(config={"header": "x-b"}), world.ops)
    second = again.next()  # the first response of this stream is revision 2, not 1 again
    assert second.resources[0].version == "2"
    again.ack(second, [RESOURCE])
    wait_for("revision 2 becomes stable", lambda: (
        v := world.fleet.get(NAMESPACE, "edge", world.ops)).stable is not None
        and v.stable.revision == 2)


def test_a_state_of_the_world_reconnect_gets_the_current_revision(
        world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient]) -> None:
    client = clients(xds.port, "s1", "sotw")
    client.subscribe(RESOURCE)
    client.ack(client.next(), [RESOURCE])
    wait_for("s1's ACK", lambda: acked(world, "s1", 1))
    client.close()
    wait_for("s1 disconnected", lambda: not node_config(world, "s1")[0].connected)
    world.fleet.set(spec(config={"header": "x-b"}), world.ops)  # nobody live: stable at once
    again = clients(xds.port, "s1", "sotw")
    again.subscribe(RESOURCE)
    versions = []
    for _ in range(3):  # revision 1 first if the server had not polled the change yet
        response = again.next()
        versions.append(response.version_info)
        again.ack(response, [RESOURCE])
        if response.version_info == "2":
            break
    assert versions in (["2"], ["1", "2"])
    wait_for("s1 ACKs revision 2", lambda: acked(world, "s1", 2))


def test_an_unknown_name_is_removed_in_delta_and_left_out_in_sotw(
        world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient]) -> None:
    unknown = f"wasmhub/{NAMESPACE}/later"
    delta = clients(xds.port, "d1", "delta")
    delta.subscribe(unknown)
    removed = delta.next()
    assert list(removed.removed_resources) == [unknown] and not removed.resources
    sotw = clients(xds.port, "s1", "sotw")
    sotw.subscribe(unknown, RESOURCE)
    only = sotw.next()
    assert config_of(only)[0] == RESOURCE  # one response, for the name that exists
    sotw.ack(only, [unknown, RESOURCE])
    # The name comes to exist: both streams get it.
    world.fleet.set(spec(name="later"), world.ops)
    created = delta.next()
    assert created.resources[0].name == unknown and created.resources[0].version == "1"
    other = sotw.next()
    assert config_of(other)[0] == unknown


def test_an_envoy_too_old_for_the_module_is_sent_nothing_and_told_why(
        world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient]) -> None:
    new = clients(xds.port, "new", "sotw")
    new.subscribe(RESOURCE)
    assert new.next().version_info == "1"
    old = clients(xds.port, "old", "sotw", version=(1, 12, 3))
    old.subscribe(RESOURCE)
    _, config = wait_for("old's hold is recorded", lambda: (
        c := node_config(world, "old"))[1] is not None and c[1].held and c)
    assert "incompatible with Envoy 1.12.3" in config.held
    assert config.acked_revision is None
    assert old.nothing_within(2.0)  # and the stream stays open, sent nothing
    node, _ = node_config(world, "old")
    assert node.envoy_version == "1.12.3" and node.connected


def test_streams_past_the_limit_are_refused_with_a_clear_status(
        hub: Hub, world: FleetWorld, clients: Callable[..., XdsClient]) -> None:
    server = start_server(hub, max_streams=1)
    try:
        first = clients(server.port, "n1", "sotw")
        first.subscribe(RESOURCE)
        assert first.next().version_info == "1"
        second = clients(server.port, "n2", "delta")
        second.subscribe(RESOURCE)
        ended = second.ended()
        assert ended.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 1 xDS streams" in ended.details
        first.close()

        def served() -> bool:
            third = clients(server.port, "n3", "sotw")
            third.subscribe(RESOURCE)
            try:
                return bool(third.next().version_info == "1")
            except StreamEnded:
                return False  # the first stream's end not seen yet: try again

        wait_for("a stream is served again once one ended", served)
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_a_stream_subscribing_to_too_many_names_is_ended(
        hub: Hub, world: FleetWorld, clients: Callable[..., XdsClient], mode: str) -> None:
    server = start_server(hub, max_names=3)
    try:
        within = clients(server.port, "few", mode)
        within.subscribe(RESOURCE)
        first = within.next()
        served = first.resources[0].name if mode == "delta" else config_of(first)[0]
        assert served == RESOURCE
        greedy = clients(server.port, "many", mode)
        greedy.subscribe(RESOURCE, *(f"wasmhub/library/n{i}" for i in range(3)))
        ended = greedy.ended()
        assert ended.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 3 names" in ended.details
        assert node_config(world, "many")[1] is None  # nothing recorded for it
    finally:
        server.stop()


def test_a_private_namespace_is_served_only_by_name(
        hub: Hub, world: FleetWorld, xds: XdsServer, clients: Callable[..., XdsClient]) -> None:
    make_user(hub, "sam", owns=("secret",))
    sam = principal(hub, "sam")
    hub.identity.orgs.set_namespace_private(sam, "secret", True)
    publish(hub, "1.0.0", module_variant("secret"), repository="secret/hdr")
    hub.fleet.set(spec(namespace="secret", repository="secret/hdr"), sam)
    resource = "wasmhub/secret/edge"
    wildcard = clients(xds.port, "w1", "sotw")
    wildcard.subscribe()  # no names: a wildcard request, as for LDS/CDS
    named = clients(xds.port, "w2", "sotw")
    named.subscribe(resource)
    assert config_of(named.next())[0] == resource  # no authentication: the name is enough
    assert wildcard.nothing_within(2.0)  # a wildcard lists nothing
    make_user(hub, "eve")
    assert [d.resource for d in hub.fleet.deployments(principal(hub, "eve"))] == [RESOURCE]


def test_nodes_go_stale_when_the_hub_dies_and_recover_when_it_is_back(
        settings: Settings, world: FleetWorld, clients: Callable[..., XdsClient]) -> None:
    port, xds_port = free_port(), free_port()
    env = {"WASMHUB_XDS_PORT": str(xds_port), "WASMHUB_XDS_POLL_SECONDS": "0.2",
           "WASMHUB_XDS_STALE_SECONDS": str(STALE)}
    with running_wasmhub(settings.data_dir, settings.database_url, port=port,
                         extra_env=env) as served:
        client = clients(xds_port, "k1", "delta")
        client.subscribe(RESOURCE)
        client.ack(client.next(), [RESOURCE])
        wait_for("k1's ACK", lambda: acked(world, "k1", 1))
        served.kill()  # SIGKILL: no disconnect is recorded
    assert client.ended().code == grpc.StatusCode.UNAVAILABLE
    node, _ = node_config(world, "k1")
    assert node.connected  # what the dead hub last wrote
    wait_for("k1 is stale once no heartbeat came for the stale period", lambda: node_config(
        world, "k1")[0].stale)
    with running_wasmhub(settings.data_dir, settings.database_url, port=port, extra_env=env):
        again = clients(xds_port, "k1", "delta")
        again.subscribe(RESOURCE, initial={RESOURCE: "1"})
        wait_for("k1 is live again", lambda: not node_config(world, "k1")[0].stale)
        world.fleet.set(spec(config={"header": "x-b"}), world.ops)
        assert again.next().resources[0].version == "2"
