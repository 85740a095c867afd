"""The Installed page's content: where one plugin runs, as a list of typed status sections.

Each section is one source of truth about installations, rendered by its own template
``_installed_<kind>.html``:

- ``kubernetes`` (:func:`kubernetes_section`): the hub's cluster (settings
  ``deploy_kubeconfig`` / ``deploy_in_cluster``), read with the very code path of
  ``wasmhub status`` — every provider's :meth:`~wasmhub.deploy.provider.Provider.status`
  over all namespaces — and narrowed to the resources that run this plugin (by its
  image reference, or by a manifest digest / module sha256 of one of its versions).
- ``envoy-fleet`` (:func:`fleet_section`): the hub's own ECDS fleet deployments of this
  plugin and what every Envoy node reported (ACKed revision, NACK text, stale), from
  :meth:`~wasmhub.fleet.service.FleetService.status_for_plugin` — which checks the fleet
  read permission (``repository:read``, as the REST API) and hides deployments in
  namespaces the visitor may not read.

A section never raises for an unreachable or refusing cluster: it carries the error as
its ``message`` (``problem=True``), so the page still renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.catalog.snippets import registry_host
from wasmhub.catalog.types import PluginDetail, VersionDetail
from wasmhub.deploy import PROVIDERS
from wasmhub.deploy.errors import ClusterError
from wasmhub.deploy.kube import Cluster
from wasmhub.deploy.provider import Installation
from wasmhub.deploy.spec import Platform
from wasmhub.fleet.service import DeploymentView, NodeView, RevisionView
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@dataclass(frozen=True)
class InstalledRow:
    installation: Installation
    version: str  # the plugin version (tag) the pinned digest belongs to; "" when unknown


@dataclass
class StatusSection:
    kind: str  # "kubernetes" | "envoy-fleet"
    title: str
    rows: list[InstalledRow] = field(default_factory=list)  # kubernetes
    # Why there are no rows (no cluster access, no permission, unreachable), or "".
    message: str = ""
    problem: bool = False  # the message is an error (the cluster refused / is unreachable)
    where: str = ""  # the cluster's server URL / the xDS address, when known
    command: str = ""  # a command that fills an empty section (shown with a copy button)
    deployments: list[FleetLine] = field(default_factory=list)  # envoy-fleet


@dataclass(frozen=True)
class PluginFacts:
    """What identifies the plugin's installations."""

    repository: str  # namespace/name
    registry: str  # host[:port] of the hub's registry
    digests: dict[str, str]  # manifest digest hex and module sha256 hex → version tag
    latest: str = ""  # the plugin's latest version tag ("" when it has none)

    def version_of(self, found: Installation) -> str | None:
        """The version ``found`` runs, "" when it is this plugin at an unknown digest,
        None when it is not this plugin at all."""
        if found.digest and found.digest in self.digests:
            return self.digests[found.digest]
        image = found.plugin.removeprefix("oci://")
        for sep in (":", "@"):
            if image.startswith(f"{self.registry}/{self.repository}{sep}"):
                return ""
        if image == f"{self.registry}/{self.repository}":
            return ""
        return None


def plugin_facts(detail: PluginDetail, versions: list[VersionDetail], base_url: str
                 ) -> PluginFacts:
    digests: dict[str, str] = {}
    for summary in detail.versions:
        if summary.digest:
            digests[summary.digest.removeprefix("sha256:")] = summary.tag
    for version in versions:
        if version.module_sha256:
            digests.setdefault(version.module_sha256, version.version.tag)
    return PluginFacts(detail.summary.repository, registry_host(base_url), digests,
                       detail.summary.latest_version or "")


def hub_cluster(settings: Settings) -> Cluster | None:
    """The hub's cluster from the deploy_* settings (None: the hub has no cluster access).
    Raises ClusterError for a config that cannot be loaded."""
    if not settings.cluster_access:
        return None
    return Cluster.connect(settings.deploy_kubeconfig, settings.deploy_kube_context,
                           in_cluster=settings.deploy_in_cluster,
                           timeout=settings.deploy_timeout_seconds)


def cluster_installations(cluster: Cluster, facts: PluginFacts) -> list[InstalledRow]:
    """``wasmhub status -A``'s listing, narrowed to this plugin."""
    rows = []
    for platform, provider in PROVIDERS.items():
        if platform is Platform.ENVOY:
            continue  # plain Envoy has no cluster resources (the fleet section covers it)
        for found in provider.status(cluster, None):
            version = facts.version_of(found)
            if version is not None:
                rows.append(InstalledRow(found, version))
    rows.sort(key=lambda r: (r.installation.namespace, r.installation.platform,
                             r.installation.name))
    return rows


def kubernetes_section(hub: Hub, principal: Principal, facts: PluginFacts,
                       gettext: Callable[..., str]) -> StatusSection:
    section = StatusSection("kubernetes", gettext("Kubernetes cluster"))
    settings = hub.settings
    if not settings.cluster_access:
        section.message = gettext(
            "This hub has no cluster access, so it cannot show where the plugin is "
            "installed. An operator enables it with the setting deploy_kubeconfig "
            "(WASMHUB_DEPLOY_KUBECONFIG) or deploy_in_cluster (WASMHUB_DEPLOY_IN_CLUSTER). "
            "Without it, run wasmhub status -A against your cluster.")
        return section
    if not hub.identity.access.check(principal, Permission.CLUSTER_READ,
                                     repository=facts.repository):
        if principal.is_anonymous:
            section.message = gettext("Sign in as a hub administrator to see the hub's "
                                      "cluster.")
        else:
            section.message = gettext("Only hub administrators may see the hub's cluster "
                                      "(permission cluster:read).")
        return section
    try:
        cluster = hub_cluster(settings)
        assert cluster is not None
        section.where = cluster.server
        section.rows = cluster_installations(cluster, facts)
    except ClusterError as exc:
        section.message, section.problem = exc.message, True
        return section
    if not section.rows:
        section.message = gettext("This plugin is not installed in the cluster.")
    return section


# -- envoy-fleet -----------------------------------------------------------------------

# Nodes listed per fleet deployment; over it, those with a NACK, a held-back revision or
# stale are kept first and the rest are counted (``wasmhub status --envoy`` lists all).
MAX_FLEET_NODES = 200
# The service's rollout states, as the page names them.
ROLLOUT_STATES = {"progressing": "rolling", "halted": "halted", "complete": "promoted"}


@dataclass(frozen=True)
class RevisionLine:
    revision: int
    version: str  # the plugin version (tag); "" when pinned by a digest no tag names
    digest: str


@dataclass(frozen=True)
class NodeLine:
    """One Envoy node subscribed to a fleet deployment, as it reported itself."""

    node_id: str
    cluster: str
    locality: str  # region/zone/sub_zone, those given
    envoy_version: str
    acked: RevisionLine | None  # the revision it last ACKed
    acked_at: str
    nacked: int | None  # the revision it refused (its last NACK, while not ACKed since)
    nack_error: str  # Envoy's error text for it
    nacked_at: str
    held: str  # why the hub holds a revision back from it (incompatible Envoy), or ""
    connected: bool
    stale: bool  # disconnected, or not heard from for xds_stale_seconds
    last_seen: str  # UTC, "YYYY-MM-DD HH:MM:SS UTC"
    last_seen_iso: str


@dataclass(frozen=True)
class FleetLine:
    """One fleet deployment (ECDS resource) of the plugin."""

    namespace: str
    name: str
    resource: str
    follow_tag: bool  # rolls out what ``version`` (a tag) moves to
    version: str  # the tag followed / the version pinned (the newest revision's)
    stable: RevisionLine | None
    candidate: RevisionLine | None
    state: str  # rolling | halted | promoted (ROLLOUT_STATES)
    stage: dict[str, Any] | None  # {"percent": P} | {"nodes": [...]}; None: every node
    stage_nodes: int | None  # nodes of the first stage while it runs; None: every node
    message: str  # the service's account of the last change
    nodes: tuple[NodeLine, ...]  # at most MAX_FLEET_NODES, by node id
    more_nodes: int = 0  # nodes not listed


def _utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _revision_line(revision: RevisionView | None) -> RevisionLine | None:
    if revision is None:
        return None
    return RevisionLine(revision.revision, revision.tag or "", revision.digest)


def _node_line(node: NodeView, resource: str, known: dict[int, RevisionLine],
               facts: PluginFacts) -> NodeLine:
    config = next((c for c in node.configs if c.resource == resource), None)
    acked = None
    if config is not None and config.acked_revision is not None:
        acked = known.get(config.acked_revision) or RevisionLine(
            config.acked_revision,
            facts.digests.get((config.acked_digest or "").removeprefix("sha256:"), ""),
            config.acked_digest or "")
    locality = "/".join(node.locality[k] for k in ("region", "zone", "sub_zone")
                        if node.locality.get(k))
    return NodeLine(
        node.node_id, node.cluster, locality, node.envoy_version, acked,
        _utc(config.acked_at) if config else "",
        config.nacked_revision if config else None,
        (config.nack_error or "") if config else "",
        _utc(config.nacked_at) if config else "",
        (config.held or "") if config else "",
        node.connected, node.stale, _utc(node.last_seen_at), node.last_seen_at.isoformat())


def fleet_line(view: DeploymentView, facts: PluginFacts) -> FleetLine:
    stable, candidate = _revision_line(view.stable), _revision_line(view.candidate)
    known = {r.revision: r for r in (stable, candidate) if r is not None}
    target = candidate or stable
    nodes = [_node_line(n, view.resource, known, facts) for n in view.nodes]
    shown = nodes
    if len(nodes) > MAX_FLEET_NODES:
        ranked = sorted(nodes, key=lambda n: not (n.nack_error or n.held or n.stale))
        shown = sorted(ranked[:MAX_FLEET_NODES], key=lambda n: n.node_id)
    return FleetLine(
        view.namespace, view.name, view.resource, view.follow_tag,
        target.version if target else "", stable, candidate,
        ROLLOUT_STATES.get(view.state, view.state), view.stage,
        len(view.stage_nodes) if view.stage_nodes is not None else None, view.message,
        tuple(shown), len(nodes) - len(shown))


def xds_address(settings: Settings, registry: str) -> str:
    """HOST:PORT Envoys reach the hub's xDS server at ("" when it is off); a wildcard
    listen address is shown as the registry's host."""
    if settings.xds_port is None:
        return ""
    host = settings.xds_host or settings.host
    if host in ("0.0.0.0", "::", ""):
        host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    return f"{host}:{settings.xds_port}"


def fleet_section(hub: Hub, principal: Principal, facts: PluginFacts,
                  gettext: Callable[..., str]) -> StatusSection:
    """The plugin's Envoy fleet deployments; ``status_for_plugin`` requires the fleet read
    permission (``repository:read``) and leaves out deployments in unreadable namespaces."""
    section = StatusSection("envoy-fleet", gettext("Envoy fleet (xDS)"))
    namespace, _, name = facts.repository.partition("/")
    views = hub.fleet.status_for_plugin(namespace, name, principal)
    section.deployments = [fleet_line(v, facts) for v in views]
    section.where = xds_address(hub.settings, facts.registry)
    if not section.where:
        if section.deployments:
            section.message, section.problem = gettext(
                "The hub's xDS server is off: these fleet deployments are not served to any "
                "Envoy until it is on again. An operator enables it with the setting "
                "xds_port (WASMHUB_XDS_PORT) or wasmhub serve --xds-port PORT."), True
        else:
            section.message = gettext(
                "The hub's xDS server is off, so no Envoy fleet gets plugins from this hub. "
                "An operator enables it with the setting xds_port (WASMHUB_XDS_PORT) or "
                "wasmhub serve --xds-port PORT.")
        return section
    if not section.deployments:
        section.message = gettext("No fleet deployments of this plugin. To create one (and "
                                  "the bootstrap of its proxies):")
        ref = f"{facts.registry}/{facts.repository}" + (f":{facts.latest}"
                                                       if facts.latest else "")
        section.command = f"wasmhub deploy envoy {ref} --xds --apply"
    return section


# Each builder is (hub, principal, facts, gettext) → one section.
SectionBuilder = Callable[[Hub, Principal, PluginFacts, Callable[..., str]], StatusSection]
SECTION_BUILDERS: list[SectionBuilder] = [kubernetes_section, fleet_section]


def sections(hub: Hub, principal: Principal, facts: PluginFacts,
             gettext: Callable[..., str]) -> list[StatusSection]:
    return [build(hub, principal, facts, gettext) for build in SECTION_BUILDERS]


def section_view(section: StatusSection) -> dict[str, Any]:
    return {"kind": section.kind, "title": section.title, "message": section.message,
            "problem": section.problem, "where": section.where, "command": section.command,
            "deployments": section.deployments,
            "template": f"_installed_{section.kind}.html",
            "rows": [{**r.installation.to_json(), "version": r.version}
                     for r in section.rows]}
