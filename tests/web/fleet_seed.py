"""Fleet state for the Installed page's Envoy fleet section, made through the fleet's own
code: deployments through :meth:`FleetService.set` (real plugin images pushed into the
registry, the deploy checks and trust gate run), and what Envoy nodes report through the
``node_*`` methods in the order the xDS server (``fleet/server.py``) calls them: a node's
first request (``node_seen``), its subscription (``node_subscribed``), the revision the
server picks for it (``ResourceState.revision_for``) and sends (``node_sent``), then the
node's ACK (``node_acked``) or NACK (``node_nacked``), and the end of its stream
(``node_disconnected``)."""

from __future__ import annotations

from typing import Any

from tests.catalog.publish import packed_plugin, push
from tests.support.accounts import PASSWORD
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.catalog.snippets import registry_host
from wasmhub.deploy.spec import parse_deployment
from wasmhub.fleet.service import DeploymentView, FleetService, NodeInfo, Stage
from wasmhub.hub import Hub

# What Envoy 1.40 says when a module's sha256 does not match (an error_detail message).
NACK_TEXT = ("Failed to load Wasm code (fail open: false): wasm: sha256 mismatch for "
             "remote code, expected c4a7e4a8")


def person(hub: Hub, username: str, *, owns: tuple[str, ...] = (),
           admin: bool = False) -> Principal:
    info = hub.identity.accounts.create_user(username, f"{username}@example.com", PASSWORD,
                                             is_admin=admin)
    principal = Principal(PrincipalKind.USER, user_id=info.id, username=info.username,
                          is_site_admin=admin)
    for org in owns:
        hub.identity.orgs.create(principal, org)
    return principal


def publish(hub: Hub, repository: str, *tags: str) -> None:
    name = repository.partition("/")[2]
    for tag in tags:
        push(hub, repository, tag, packed_plugin(name, tag, en=name.title()))


def set_deployment(hub: Hub, principal: Principal, namespace: str, name: str,
                   repository: str, tag: str, *, stage: Stage | None = None,
                   follow_tag: bool | None = None, config: Any = None) -> DeploymentView:
    """What ``wasmhub deploy envoy REF --xds --apply`` sends (the REST PUT's service call)."""
    base = hub.settings.base_url
    registry = registry_host(base)
    deployment = parse_deployment({
        "name": name, "namespace": namespace, "platform": "envoy", "codeSource": "http",
        "plugin": {"ref": f"{registry}/{repository}:{tag}", "registry": registry,
                   "repository": repository, "tag": tag, "hubUrl": base},
        "config": config if config is not None else {"header": "x-demo"}})
    return hub.fleet.set(deployment, principal, stage=stage, follow_tag=follow_tag)


def connect(fleet: FleetService, node: NodeInfo, resource: str) -> None:
    """A node's first request on a new stream, subscribing to ``resource``."""
    fleet.node_seen(node, fresh=True)
    fleet.node_subscribed(node.node_id, [resource])


def push_to(fleet: FleetService, node: NodeInfo, resource: str) -> tuple[int, str] | None:
    """What the server sends ``node`` for ``resource`` now: (revision, digest) or None."""
    revision, held = fleet.snapshot()[resource].revision_for(node)
    fleet.node_sent(node.node_id, resource, revision.revision if revision else None, held)
    return (revision.revision, revision.digest) if revision else None


def ack(fleet: FleetService, node: NodeInfo, resource: str) -> int:
    sent = push_to(fleet, node, resource)
    assert sent is not None, f"nothing to send {node.node_id}"
    fleet.node_acked(node.node_id, resource, *sent)
    return sent[0]


def nack(fleet: FleetService, node: NodeInfo, resource: str, error: str) -> int:
    sent = push_to(fleet, node, resource)
    assert sent is not None, f"nothing to send {node.node_id}"
    fleet.node_nacked(node.node_id, resource, sent[0], error)
    return sent[0]


NODE_A = NodeInfo("edge-a", "edge", {"region": "eu-west", "zone": "zone-a"}, "1.40.0", "envoy")
NODE_B = NodeInfo("edge-b", "edge", {"region": "eu-west", "zone": "zone-b"}, "1.40.0", "envoy")
NODE_C = NodeInfo("edge-c", "batch", {"zone": "zone-c"}, "1.40.0", "envoy")


def seed_fleet(hub: Hub) -> Principal:
    """acme/hdr 1.0.0 and 1.1.0; fleet deployments of it:

    - ``acme/edge``: revision 1 (1.0.0) ACKed by edge-a, edge-b and edge-c; edge-c then
      disconnects (stale); revision 2 (1.1.0) staged to edge-b first, which NACKs it: the
      rollout is halted, revision 1 keeps serving;
    - ``acme/canary``: follows tag 1.1.0; revision 1 ACKed by edge-a, revision 2 (a new
      config) rolling out to every node at once, not ACKed yet;

    and ``acme/unrelated``, a deployment of another plugin (``acme/other``)."""
    alice = person(hub, "alice", owns=("acme",))
    publish(hub, "acme/hdr", "1.0.0", "1.1.0")
    publish(hub, "acme/other", "1.0.0")
    fleet = hub.fleet
    edge = set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.0.0").resource
    for node in (NODE_A, NODE_B, NODE_C):
        connect(fleet, node, edge)
        assert ack(fleet, node, edge) == 1
    fleet.node_disconnected(NODE_C.node_id)
    set_deployment(hub, alice, "acme", "edge", "acme/hdr", "1.1.0",
                   stage=Stage(nodes=(NODE_B.node_id,)))
    assert push_to(fleet, NODE_A, edge) is not None  # not in the stage: keeps revision 1
    assert nack(fleet, NODE_B, edge, NACK_TEXT) == 2

    canary = set_deployment(hub, alice, "acme", "canary", "acme/hdr", "1.1.0",
                            follow_tag=True).resource
    connect(fleet, NODE_A, canary)
    assert ack(fleet, NODE_A, canary) == 1
    set_deployment(hub, alice, "acme", "canary", "acme/hdr", "1.1.0", follow_tag=True,
                   config={"header": "x-canary"})
    other = set_deployment(hub, alice, "acme", "unrelated", "acme/other", "1.0.0").resource
    connect(fleet, NODE_A, other)
    ack(fleet, NODE_A, other)
    return alice
