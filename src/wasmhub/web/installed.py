"""The Installed page's content: where one plugin runs, as a list of typed status sections.

Each section is one source of truth about installations, rendered by its own template
``_installed_<kind>.html``. Today there is one:

- ``kubernetes`` (:func:`kubernetes_section`): the hub's cluster (settings
  ``deploy_kubeconfig`` / ``deploy_in_cluster``), read with the very code path of
  ``wasmhub status`` — every provider's :meth:`~wasmhub.deploy.provider.Provider.status`
  over all namespaces — and narrowed to the resources that run this plugin (by its
  image reference, or by a manifest digest / module sha256 of one of its versions).

The Envoy fleet (ECDS) status service adds a second kind, ``envoy-fleet``: a builder
returning a :class:`StatusSection` with ``kind="envoy-fleet"`` appended to
:data:`SECTION_BUILDERS`, and a ``_installed_envoy-fleet.html`` template. Nothing else in
the page changes.

A section never raises for an unreachable or refusing cluster: it carries the error as
its ``message`` (``problem=True``), so the page still renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@dataclass(frozen=True)
class InstalledRow:
    installation: Installation
    version: str  # the plugin version (tag) the pinned digest belongs to; "" when unknown


@dataclass
class StatusSection:
    kind: str  # "kubernetes"; the fleet adds "envoy-fleet"
    title: str
    rows: list[InstalledRow] = field(default_factory=list)
    # Why there are no rows (no cluster access, no permission, unreachable), or "".
    message: str = ""
    problem: bool = False  # the message is an error (the cluster refused / is unreachable)
    where: str = ""  # the cluster's server URL, when known


@dataclass(frozen=True)
class PluginFacts:
    """What identifies the plugin's installations."""

    repository: str  # namespace/name
    registry: str  # host[:port] of the hub's registry
    digests: dict[str, str]  # manifest digest hex and module sha256 hex → version tag

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
    return PluginFacts(detail.summary.repository, registry_host(base_url), digests)


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


# Each builder is (hub, principal, facts, gettext) → one section; the fleet appends its own.
SectionBuilder = Callable[[Hub, Principal, PluginFacts, Callable[..., str]], StatusSection]
SECTION_BUILDERS: list[SectionBuilder] = [kubernetes_section]


def sections(hub: Hub, principal: Principal, facts: PluginFacts,
             gettext: Callable[..., str]) -> list[StatusSection]:
    return [build(hub, principal, facts, gettext) for build in SECTION_BUILDERS]


def section_view(section: StatusSection) -> dict[str, Any]:
    return {"kind": section.kind, "title": section.title, "message": section.message,
            "problem": section.problem, "where": section.where,
            "template": f"_installed_{section.kind}.html",
            "rows": [{**r.installation.to_json(), "version": r.version}
                     for r in section.rows]}
