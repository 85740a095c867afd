"""In-process fleet fixtures shared by the service, protocol and API tests: a hub (SQLite or
PostgreSQL, tests/conftest.py) with plugin versions published in its registry, an operator
who owns the namespace, and deployment specs for :class:`~wasmhub.fleet.service.FleetService`.

The xDS server reports what the proxies say through ``FleetService.node_*``; :class:`Node`
makes those same calls the way the server does (``ResourceState.revision_for`` decides
what a node is sent), so the service's rollout logic is driven without a gRPC stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.catalog.modules import proxy_module
from tests.catalog.publish import plugin_yaml, push
from tests.support.accounts import make_user
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.deploy.spec import Deployment, parse_deployment
from wasmhub.fleet.service import FleetService, NodeInfo, RevisionView
from wasmhub.hub import Hub
from wasmhub.wasm import PluginFiles, pack

REGISTRY = "127.0.0.1:5000"  # only written into the specs: Envoy would fetch from there
NAMESPACE = "acme"
PLUGIN = "acme/hdr"
RESOURCE = "wasmhub/acme/edge"


def module_variant(label: str) -> bytes:
    """The proxy module plus a custom section named ``label``: same code, another sha256."""
    name = label.encode()
    payload = bytes([len(name)]) + name
    return proxy_module() + bytes([0, len(payload)]) + payload


def publish(hub: Hub, tag: str, module: bytes, repository: str = PLUGIN) -> str:
    """Push ``repository:tag`` (a compat plugin image of ``module``); its manifest digest."""
    name = repository.partition("/")[2]
    files = PluginFiles(plugin_yaml=plugin_yaml(name, tag, en=name.title()))
    return push(hub, repository, tag, pack(module, metadata=files))


def principal(hub: Hub, username: str) -> Principal:
    info = hub.identity.accounts.get_user(username)
    return Principal(PrincipalKind.USER, user_id=info.id, username=info.username)


def spec(*, name: str = "edge", namespace: str = NAMESPACE, tag: str | None = "1.0.0",
         repository: str = PLUGIN, config: Any = None, **extra: Any) -> Deployment:
    plugin: dict[str, Any] = {"ref": f"{REGISTRY}/{repository}:{tag or 'latest'}",
                              "registry": REGISTRY, "repository": repository,
                              "hubUrl": f"http://{REGISTRY}"}
    if tag is not None:
        plugin["tag"] = tag
    plugin.update(extra.pop("plugin", {}))
    return parse_deployment({"name": name, "namespace": namespace, "platform": "envoy",
                             "plugin": plugin,
                             "config": {"header": "x-a"} if config is None else config,
                             **extra})


@dataclass
class FleetWorld:
    hub: Hub
    ops: Principal  # owns namespace acme
    digests: dict[str, str]  # tag -> manifest digest

    @property
    def fleet(self) -> FleetService:
        return self.hub.fleet


def fleet_world(hub: Hub) -> FleetWorld:
    make_user(hub, "ops", owns=(NAMESPACE,))
    digests = {tag: publish(hub, tag, module_variant(tag)) for tag in ("1.0.0", "1.1.0")}
    return FleetWorld(hub, principal(hub, "ops"), digests)


@dataclass
class Node:
    """One Envoy node as the xDS server reports it to the service."""

    service: FleetService
    node_id: str
    envoy_version: str = "1.40.0"

    @property
    def info(self) -> NodeInfo:
        return NodeInfo(self.node_id, "edge", {"zone": "zone-a"}, self.envoy_version,
                        "envoy")

    def connect(self, resource: str = RESOURCE) -> Node:
        self.service.node_seen(self.info, fresh=True)
        self.service.node_subscribed(self.node_id, [resource])
        return self

    def offered(self, resource: str = RESOURCE) -> tuple[RevisionView | None, str | None]:
        """What the server would send this node now (and why a revision is held back)."""
        state = self.service.snapshot()[resource]
        return state.revision_for(self.info)

    def receive(self, resource: str = RESOURCE) -> int | None:
        """The server sends what it would send; the number of the revision sent."""
        revision, held = self.offered(resource)
        number = revision.revision if revision else None
        self.service.node_sent(self.node_id, resource, number, held)
        return number

    def ack(self, resource: str = RESOURCE) -> int:
        number = self.receive(resource)
        assert number is not None, f"{self.node_id} was sent nothing to ACK"
        revision, _ = self.offered(resource)
        assert revision is not None
        self.service.node_acked(self.node_id, resource, number, revision.digest)
        return number

    def nack(self, error: str, resource: str = RESOURCE) -> int:
        number = self.receive(resource)
        assert number is not None, f"{self.node_id} was sent nothing to NACK"
        self.service.node_nacked(self.node_id, resource, number, error)
        return number
