"""Fleet deployments, rollouts, rollback and what the proxies report: :class:`FleetService`.

A *fleet deployment* is one ECDS resource, ``wasmhub/<namespace>/<name>``, holding a
``Deployment`` (platform ``envoy``, HTTP code source). Setting one (:meth:`set`) resolves
the plugin on this hub, runs the deploy checks and the namespace's trust policy, stores a
new *revision* and starts a *rollout*: the revision is the deployment's *candidate* until
every connected node of the rollout's stage ACKed it. A staged rollout (a percentage of
the connected nodes, or named node ids) first sends the candidate to those nodes only; when
they all ACKed, to every node; when every node ACKed, the candidate becomes the *stable*
revision. A NACK of the candidate by any node halts the rollout: the candidate is
withdrawn and every node is sent the stable revision again (which the NACKing node still
runs: Envoy keeps its last good config). ``undo`` withdraws a running or halted
candidate, or rolls out the revision that was stable before the current one.

The xDS server (:mod:`wasmhub.fleet.server`) reads :meth:`snapshot` and reports what each
node says through the ``node_*`` methods, in the database, so status is the same from any
worker and survives restarts. Safety: a revision is never sent to a node whose Envoy
version the module is incompatible with (``wasm/data/platforms.yaml``); that node keeps
the stable revision and its status says why (``held``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wasmhub.authz.permissions import Permission
from wasmhub.deploy.envoy import HTTP_WASM, ecds_resource_name, plugin_config
from wasmhub.deploy.errors import CheckFailed, SpecError
from wasmhub.deploy.spec import (
    CodeSource,
    Deployment,
    Platform,
    PluginRef,
    PluginType,
    parse_deployment,
)
from wasmhub.errors import InputError, NotFoundError
from wasmhub.fleet.errors import FleetDeploymentNotFound, NothingToUndo, RolloutRefused
from wasmhub.fleet.models import (
    FleetDeploymentRow,
    FleetNodeConfigRow,
    FleetNodeRow,
    FleetRevisionRow,
    utcnow,
)
from wasmhub.registry.db_ops import insert_for

if TYPE_CHECKING:
    from wasmhub.authz.principal import Principal
    from wasmhub.hub import Hub

REVISION_ENV = "WASMHUB_REVISION"
PROGRESSING, COMPLETE, HALTED = "progressing", "complete", "halted"


resource_name = ecds_resource_name


@dataclass(frozen=True)
class Stage:
    """The first stage of a rollout: a percentage of the connected nodes, or node ids."""

    percent: int | None = None
    nodes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.percent is not None and self.nodes:
            raise InputError("stage: give a percentage or node ids, not both")
        if self.percent is not None and not 1 <= self.percent <= 99:
            raise InputError("stage.percent: must be 1-99 (100 is a rollout without a stage)")
        if len(self.nodes) > 1000 or any(not n or len(n) > 255 for n in self.nodes):
            raise InputError("stage.nodes: 1-1000 node ids of 1-255 characters")

    def to_json(self) -> dict[str, Any] | None:
        if self.percent is not None:
            return {"percent": self.percent}
        if self.nodes:
            return {"nodes": list(self.nodes)}
        return None


def envoy_version_key(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return None


def verdict_for(verdicts: dict[str, Any], envoy_version: str) -> dict[str, Any] | None:
    """The verdict of the newest Envoy version we have data for at or below the node's;
    None when the node did not say its version (nothing to hold it back on)."""
    node = envoy_version_key(envoy_version) if envoy_version else None
    if node is None:
        return None
    known = sorted((k, v) for k, v in ((envoy_version_key(k), v) for k, v in verdicts.items())
                   if k is not None)
    below = [v for k, v in known if k <= node]
    if not below:
        return {"status": "incompatible", "version": envoy_version,
                "reasons": [f"Envoy {envoy_version} predates the Wasm filter in our data"]}
    return dict(below[-1])


def hold_reason(verdicts: dict[str, Any], envoy_version: str) -> str | None:
    verdict = verdict_for(verdicts, envoy_version)
    if verdict is None or verdict.get("status") != "incompatible":
        return None
    return (f"incompatible with Envoy {envoy_version}: "
            + "; ".join(verdict.get("reasons") or ["(no reason recorded)"]))


# -- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionView:
    revision: int
    tag: str | None
    digest: str
    module_sha256: str
    spec: dict[str, Any]
    verdicts: dict[str, Any]
    reason: str
    created_at: datetime
    created_by: str

    @property
    def deployment(self) -> Deployment:
        return parse_deployment(self.spec)

    def extension_config(self, resource: str, attempt: int = 0) -> dict[str, Any]:
        """The ``TypedExtensionConfig`` (JSON form) ECDS sends for this revision.

        The VM gets ``WASMHUB_REVISION`` (``<revision>`` or, when a NACK is retried,
        ``<revision>.<attempt>``): Envoy ACKs a config identical to the last one it was
        sent without loading it again, so a retry must differ to be a real retry."""
        config = plugin_config(self.deployment, nack_on_cache_miss=True)
        env = config["vm_config"].setdefault("environment_variables", {})
        env.setdefault("key_values", {})[REVISION_ENV] = (
            f"{self.revision}.{attempt}" if attempt else str(self.revision))
        return {"name": resource, "typed_config": {"@type": HTTP_WASM, "config": config}}

    def to_json(self) -> dict[str, Any]:
        d = self.deployment
        return {"revision": self.revision, "tag": self.tag, "digest": self.digest,
                "module_sha256": self.module_sha256, "plugin": d.plugin.repository,
                "config": d.config, "reason": self.reason, "spec": self.spec,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by}


@dataclass(frozen=True)
class NodeConfigView:
    resource: str
    acked_revision: int | None
    acked_digest: str | None
    acked_at: datetime | None
    nacked_revision: int | None
    nack_error: str | None
    nacked_at: datetime | None
    held: str | None

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {"resource": self.resource, "acked_revision": self.acked_revision,
                "acked_digest": self.acked_digest, "acked_at": iso(self.acked_at),
                "nacked_revision": self.nacked_revision, "nack_error": self.nack_error,
                "nacked_at": iso(self.nacked_at), "held": self.held}


@dataclass(frozen=True)
class NodeView:
    node_id: str
    cluster: str
    locality: dict[str, str]
    envoy_version: str
    connected: bool
    stale: bool
    last_seen_at: datetime
    configs: tuple[NodeConfigView, ...]

    def to_json(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "cluster": self.cluster, "locality": self.locality,
                "envoy_version": self.envoy_version, "connected": self.connected,
                "stale": self.stale, "last_seen_at": self.last_seen_at.isoformat(),
                "configs": [c.to_json() for c in self.configs]}


@dataclass(frozen=True)
class DeploymentView:
    namespace: str
    name: str
    resource: str
    repository: str
    follow_tag: bool
    state: str
    message: str
    stage: dict[str, Any] | None
    stage_nodes: tuple[str, ...] | None
    stable: RevisionView | None
    candidate: RevisionView | None
    generation: int
    updated_at: datetime
    nodes: tuple[NodeView, ...] = ()

    @property
    def target(self) -> RevisionView | None:
        return self.candidate or self.stable

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace, "name": self.name, "resource": self.resource,
            "plugin": self.repository, "follow_tag": self.follow_tag, "state": self.state,
            "message": self.message, "stage": self.stage,
            "stage_nodes": list(self.stage_nodes) if self.stage_nodes is not None else None,
            "stable": self.stable.to_json() if self.stable else None,
            "candidate": self.candidate.to_json() if self.candidate else None,
            "generation": self.generation, "updated_at": self.updated_at.isoformat(),
            "nodes": [n.to_json() for n in self.nodes],
        }


@dataclass(frozen=True)
class NodeInfo:
    """What a node says about itself in its xDS requests."""

    node_id: str
    cluster: str = ""
    locality: dict[str, str] = field(default_factory=dict)
    envoy_version: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class ResourceState:
    """What the xDS server serves for one resource."""

    resource: str
    generation: int
    state: str
    stable: RevisionView | None
    candidate: RevisionView | None
    stage_nodes: frozenset[str] | None

    def revision_for(self, node: NodeInfo) -> tuple[RevisionView | None, str | None]:
        """The revision to send ``node`` and, when one is held back from it, why."""
        held = None
        if self.candidate is not None and self.state == PROGRESSING and (
                self.stage_nodes is None or node.node_id in self.stage_nodes):
            held = hold_reason(self.candidate.verdicts, node.envoy_version)
            if held is None:
                return self.candidate, None
        if self.stable is not None:
            stable_held = hold_reason(self.stable.verdicts, node.envoy_version)
            if stable_held is None:
                return self.stable, held
            return None, held or stable_held
        return None, held


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _revision(row: FleetRevisionRow) -> RevisionView:
    return RevisionView(row.revision, row.tag, row.digest, row.module_sha256, dict(row.spec),
                        dict(row.verdicts), row.reason, _aware(row.created_at), row.created_by)


class FleetService:
    """Built once per process (``FleetService(hub)``); every method is one transaction."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.db = hub.database

    # -- reading --------------------------------------------------------------------------

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.hub.settings.xds_stale_seconds)

    def _row(self, session: Session, namespace: str, name: str) -> FleetDeploymentRow:
        row = session.scalar(select(FleetDeploymentRow).where(
            FleetDeploymentRow.resource == resource_name(namespace, name)))
        if row is None:
            raise FleetDeploymentNotFound(
                f"no fleet deployment {name} in namespace {namespace}")
        return row

    def _rev(self, session: Session, deployment_id: int, revision: int | None
             ) -> RevisionView | None:
        if revision is None:
            return None
        row = session.get(FleetRevisionRow, (deployment_id, revision))
        return _revision(row) if row else None

    def _nodes(self, session: Session, resources: Sequence[str] | None) -> list[NodeView]:
        query = select(FleetNodeRow).order_by(FleetNodeRow.node_id)
        configs = select(FleetNodeConfigRow)
        if resources is not None:
            configs = configs.where(FleetNodeConfigRow.resource.in_(list(resources)))
        by_node: dict[str, list[NodeConfigView]] = {}
        for c in session.scalars(configs.order_by(FleetNodeConfigRow.resource)):
            by_node.setdefault(c.node_id, []).append(NodeConfigView(
                c.resource, c.acked_revision, c.acked_digest, c.acked_at and _aware(c.acked_at),
                c.nacked_revision, c.nack_error, c.nacked_at and _aware(c.nacked_at), c.held))
        cutoff = utcnow() - self.stale_after
        out = []
        for n in session.scalars(query):
            if resources is not None and n.node_id not in by_node:
                continue
            seen = _aware(n.last_seen_at)
            out.append(NodeView(n.node_id, n.cluster, dict(n.locality or {}), n.envoy_version,
                                n.connected, not n.connected or seen < cutoff, seen,
                                tuple(by_node.get(n.node_id, ()))))
        return out

    def _view(self, session: Session, row: FleetDeploymentRow, with_nodes: bool = True
              ) -> DeploymentView:
        nodes = tuple(self._nodes(session, [row.resource])) if with_nodes else ()
        stage_nodes = tuple(row.stage_nodes) if row.stage_nodes is not None else None
        return DeploymentView(
            row.namespace, row.name, row.resource, row.repository, row.follow_tag, row.state,
            row.message, row.stage, stage_nodes, self._rev(session, row.id, row.stable_revision),
            self._rev(session, row.id, row.candidate_revision), row.generation,
            _aware(row.updated_at), nodes)

    def _readable(self, principal: Principal, namespace: str) -> None:
        self.hub.identity.access.require(principal, Permission.REPOSITORY_READ,
                                         namespace=namespace, what=f"namespace {namespace}")

    def get(self, namespace: str, name: str, principal: Principal) -> DeploymentView:
        self._readable(principal, namespace)
        with self.db.session() as session:
            return self._view(session, self._row(session, namespace, name))

    def history(self, namespace: str, name: str, principal: Principal) -> list[RevisionView]:
        self._readable(principal, namespace)
        with self.db.session() as session:
            row = self._row(session, namespace, name)
            revisions = session.scalars(select(FleetRevisionRow).where(
                FleetRevisionRow.deployment_id == row.id).order_by(
                FleetRevisionRow.revision.desc()))
            return [_revision(r) for r in revisions]

    def deployments(self, principal: Principal, namespace: str | None = None
                    ) -> list[DeploymentView]:
        """The fleet deployments the principal may read (one namespace, or all)."""
        scope = self.hub.identity.access.read_scope(principal)
        with self.db.session() as session:
            query = select(FleetDeploymentRow).order_by(FleetDeploymentRow.resource)
            if namespace is not None:
                query = query.where(FleetDeploymentRow.namespace == namespace)
            query = query.where(scope.condition(FleetDeploymentRow.namespace,
                                                FleetDeploymentRow.repository))
            return [self._view(session, r) for r in session.scalars(query)]

    def nodes(self, principal: Principal) -> list[NodeView]:
        """Every node that ever connected, with the configs of deployments it may read."""
        visible = {d.resource for d in self.deployments(principal)}
        with self.db.session() as session:
            nodes = self._nodes(session, None)
        return [NodeView(n.node_id, n.cluster, n.locality, n.envoy_version, n.connected,
                         n.stale, n.last_seen_at,
                         tuple(c for c in n.configs if c.resource in visible))
                for n in nodes if n.configs == () or any(c.resource in visible
                                                          for c in n.configs)]

    def status_for_plugin(self, namespace: str, name: str, principal: Principal
                          ) -> list[DeploymentView]:
        """The fleet deployments of plugin ``namespace/name``, with every node's reported
        state: what a plugin's "Installed" page shows beside the Kubernetes view."""
        self.hub.identity.access.require(principal, Permission.REPOSITORY_READ,
                                         repository=f"{namespace}/{name}",
                                         what=f"plugin {namespace}/{name}")
        scope = self.hub.identity.access.read_scope(principal)
        with self.db.session() as session:
            rows = session.scalars(select(FleetDeploymentRow).where(
                FleetDeploymentRow.repository == f"{namespace}/{name}",
                scope.condition(FleetDeploymentRow.namespace, FleetDeploymentRow.repository),
            ).order_by(FleetDeploymentRow.resource))
            return [self._view(session, r) for r in rows]

    # -- changing -------------------------------------------------------------------------

    def set(self, deployment: Deployment, principal: Principal, *, stage: Stage | None = None,
            follow_tag: bool | None = None) -> DeploymentView:
        """Create or change a fleet deployment and start rolling its new revision out."""
        access = self.hub.identity.access
        access.require(principal, Permission.REPOSITORY_PUSH, namespace=deployment.namespace,
                       what=f"namespace {deployment.namespace}")
        d = self._check_spec(deployment)
        access.require(principal, Permission.REPOSITORY_READ, repository=d.plugin.repository,
                       what=f"plugin {d.plugin.repository}")
        pinned = self._resolve(d)
        follow = (d.update_policy == "follow-tag") if follow_tag is None else follow_tag
        if follow and not pinned.plugin.tag:
            raise RolloutRefused("followTag: the deployment names a digest, not a tag to follow")
        return self._start(pinned, _actor(principal), "set", stage, follow)

    def undo(self, namespace: str, name: str, principal: Principal) -> DeploymentView:
        """Withdraw the running (or halted) candidate; else roll back to the revision that
        was stable before the current one, as a new revision, to every node at once."""
        self.hub.identity.access.require(principal, Permission.REPOSITORY_PUSH,
                                         namespace=namespace, what=f"namespace {namespace}")
        with self.db.session() as session:
            row = self._row(session, namespace, name)
            if row.candidate_revision is not None:
                withdrawn = row.candidate_revision
                row.candidate_revision = None
                row.stage_nodes = None
                row.state = COMPLETE if row.stable_revision is not None else HALTED
                row.message = f"revision {withdrawn} withdrawn by {_actor(principal)}"
                self._bump(row)
                return self._view(session, row)
            previous = session.scalar(select(FleetRevisionRow).where(
                FleetRevisionRow.deployment_id == row.id,
                FleetRevisionRow.revision < (row.stable_revision or 0),
                FleetRevisionRow.promoted_at.is_not(None)).order_by(
                FleetRevisionRow.revision.desc()).limit(1))
            if previous is None:
                raise NothingToUndo(f"{name} has no earlier revision that was rolled out")
            spec = parse_deployment(previous.spec)
        return self._start(spec, _actor(principal), "undo", None, False)  # pins it

    def follow_tags(self) -> list[str]:
        """Start a rollout for every follow-tag deployment whose tag moved; the resources
        changed. Called by the xDS server's poll loop."""
        with self.db.session() as session:
            rows = list(session.scalars(select(FleetDeploymentRow).where(
                FleetDeploymentRow.follow_tag.is_(True))))
            targets = [(r.resource, self._rev(session, r.id,
                                              r.candidate_revision or r.stable_revision))
                       for r in rows]
        changed = []
        for resource, target in targets:
            if target is None or not target.tag:
                continue
            d = target.deployment
            namespace, _, name = d.plugin.repository.partition("/")
            try:
                now = self._catalog_version(namespace, name, target.tag)
            except NotFoundError:
                continue
            if now.version.digest == target.digest:
                continue
            moved = d.with_plugin(d.plugin.model_copy(update={
                "digest": now.version.digest, "module_sha256": now.module_sha256}))
            try:
                self._start(moved, "wasmhub (tag moved)", "tag-moved", None, True)
            except (RolloutRefused, CheckFailed) as exc:
                self._note(resource, f"tag {target.tag} moved to {now.version.digest} but it "
                                     f"is not rolled out: {exc}")
                continue
            changed.append(resource)
        return changed

    def _note(self, resource: str, message: str) -> None:
        with self.db.session() as session:
            row = session.scalar(select(FleetDeploymentRow).where(
                FleetDeploymentRow.resource == resource))
            if row is not None and row.message != message:
                row.message = message
                row.updated_at = utcnow()

    # -- checks ---------------------------------------------------------------------------

    def _check_spec(self, d: Deployment) -> Deployment:
        if d.platform is not Platform.ENVOY:
            raise SpecError("platform", "a fleet deployment is for platform envoy")
        if d.plugin_type is not PluginType.HTTP:
            raise SpecError("pluginType", "fleets serve HTTP filters (ECDS of the wasm filter)")
        if d.code_source is CodeSource.OCI:
            raise SpecError("codeSource", "Envoy fetches code over HTTP from /modules/")
        if not d.plugin.repository or not d.plugin.hub_url or not d.plugin.registry:
            raise SpecError("plugin", "give a resolved plugin (registry, repository, hubUrl)")
        return d

    def _catalog_version(self, namespace: str, name: str, tag: str) -> Any:
        from wasmhub.catalog.service import CatalogService

        return CatalogService(self.hub).get_version(namespace, name, tag)

    def _version_of(self, plugin: PluginRef) -> Any:
        """The catalog version of ``plugin``: by its tag, or (a deployment pinned by digest
        names no tag) the version whose digest it is."""
        from wasmhub.catalog.service import CatalogService

        namespace, _, name = plugin.repository.partition("/")
        tag = plugin.tag
        if not tag:
            versions = CatalogService(self.hub).list_versions(namespace, name)
            match = [v for v in versions if v.digest == plugin.digest]
            if not match:
                raise NotFoundError(f"{plugin.repository} has no version with digest "
                                    f"{plugin.digest}")
            tag = match[0].tag
        return self._catalog_version(namespace, name, tag)

    def _resolve(self, d: Deployment) -> Deployment:
        """Pin the plugin to what *this* hub stores (the client's digest is not trusted)."""
        detail = self._version_of(d.plugin)
        if d.plugin.tag is None and detail.version.digest != d.plugin.digest:
            raise NotFoundError(f"{d.plugin.repository}@{d.plugin.digest} is not stored")
        return d.with_plugin(d.plugin.model_copy(update={
            "digest": detail.version.digest, "module_sha256": detail.module_sha256}))

    def _gate(self, d: Deployment) -> dict[str, Any]:
        """Compatibility (deploy checks + per-Envoy-version verdicts) and the trust policy;
        RolloutRefused naming why. Returns the verdicts stored with the revision."""
        from wasmhub.deploy.checks import preflight, require
        from wasmhub.deploy.resolve import ResolvedPlugin
        from wasmhub.wasm.compat import compatibility
        from wasmhub.wasm.report import inspect_module

        plugin = d.plugin
        module = self.hub.read_plugin_module(plugin.repository, str(plugin.digest))
        if hashlib.sha256(module).hexdigest() != plugin.module_sha256:
            raise RolloutRefused(f"{plugin.repository}@{plugin.digest}: the stored module does "
                                 "not match the catalog's sha256")
        report = inspect_module(module)
        detail = self._version_of(plugin)  # not "None" for a deployment pinned by digest
        resolved = ResolvedPlugin(
            ref=plugin, config_schema=detail.config_schema, example_config=None,
            root_id=detail.root_id, phase=detail.phase, priority=detail.priority,
            filter_types=tuple(detail.filter_types), report=report)
        try:
            require(preflight(d, resolved))
        except CheckFailed as exc:
            raise RolloutRefused(f"{plugin.repository}@{plugin.digest} is not rolled out: "
                                 + "; ".join(exc.reasons)) from exc
        self._trusted(d)
        return {v.version: {"status": v.status, "reasons": list(v.reasons)}
                for v in compatibility(report, "envoy")}

    def _trusted(self, d: Deployment) -> None:
        from wasmhub.oci.reference import Reference
        from wasmhub.registry.service import RegistryService
        from wasmhub.signing.errors import UntrustedPlugin
        from wasmhub.signing.index import ServiceReader
        from wasmhub.signing.policy import Purpose, ensure_trusted
        from wasmhub.signing.trust import TrustService

        plugin = d.plugin
        namespace = plugin.repository.partition("/")[0]
        trust = TrustService(self.hub)
        ref = Reference.parse(f"{plugin.registry}/{plugin.repository}@{plugin.digest}")
        try:
            ensure_trusted(ref, str(plugin.digest), trust.policy(namespace),
                           trust.trusted_keys(namespace), ServiceReader(RegistryService(self.hub)),
                           Purpose.DEPLOY)
        except UntrustedPlugin as exc:
            raise RolloutRefused(f"rollout refused: {exc.message}") from exc

    # -- rollouts -------------------------------------------------------------------------

    def _start(self, d: Deployment, actor: str, reason: str, stage: Stage | None,
               follow: bool) -> DeploymentView:
        verdicts = self._gate(d)  # undo too: keys may have been revoked since
        resource = resource_name(d.namespace, d.name)
        spec = d.model_dump(mode="json", by_alias=True, exclude_none=True)
        with self.db.session() as session:
            # INSERT … ON CONFLICT DO NOTHING, then lock the row: two first sets of one
            # deployment raced a read-then-insert into a unique violation (a 500) on
            # PostgreSQL; on SQLite a write first takes the lock, so busy_timeout queues
            # writers instead of failing one with "database is locked".
            now = utcnow()
            session.execute(insert_for(session, FleetDeploymentRow).values(
                resource=resource, namespace=d.namespace, name=d.name,
                repository=d.plugin.repository, follow_tag=follow, state=COMPLETE,
                message="", generation=0, created_by=actor, created_at=now,
                updated_at=now).on_conflict_do_nothing(index_elements=["resource"]))
            row = session.scalar(select(FleetDeploymentRow).where(
                FleetDeploymentRow.resource == resource).with_for_update())
            assert row is not None  # inserted or already there, in this transaction
            current = self._rev(session, row.id, row.candidate_revision or row.stable_revision)
            row.follow_tag = follow
            row.repository = d.plugin.repository
            if current is not None and current.spec == spec and row.state != HALTED:
                return self._view(session, row)  # nothing changed: no new revision
            number = (session.scalar(select(func.max(FleetRevisionRow.revision)).where(
                FleetRevisionRow.deployment_id == row.id)) or 0) + 1
            session.add(FleetRevisionRow(
                deployment_id=row.id, revision=number, spec=spec, tag=d.plugin.tag,
                digest=str(d.plugin.digest), module_sha256=str(d.plugin.module_sha256),
                verdicts=verdicts, reason=reason, created_by=actor))
            row.candidate_revision = number
            row.state = PROGRESSING
            row.stage = stage.to_json() if stage else None
            row.stage_nodes = self._stage_nodes(session, resource, stage)
            first = "" if row.stage_nodes is None else \
                f" to {len(row.stage_nodes)} stage node(s) first"
            row.message = f"revision {number} ({reason} by {actor}) rolling out{first}"
            self._bump(row)
            session.flush()
            self._evaluate(session, row)
            return self._view(session, row)

    def _stage_nodes(self, session: Session, resource: str, stage: Stage | None
                     ) -> list[str] | None:
        if stage is None or stage.to_json() is None:
            return None
        if stage.nodes:
            return sorted(set(stage.nodes))
        live = sorted(self._subscribers(session, resource),
                      key=lambda n: hashlib.sha256(f"{resource}|{n}".encode()).hexdigest())
        count = math.ceil(len(live) * int(stage.percent or 0) / 100)
        return sorted(live[:count]) if count else None

    def _subscribers(self, session: Session, resource: str) -> dict[str, FleetNodeConfigRow]:
        """Live (connected, not stale) nodes subscribed to ``resource``."""
        cutoff = utcnow() - self.stale_after
        rows = session.execute(select(FleetNodeConfigRow, FleetNodeRow).join(
            FleetNodeRow, FleetNodeRow.node_id == FleetNodeConfigRow.node_id).where(
            FleetNodeConfigRow.resource == resource, FleetNodeRow.connected.is_(True)))
        return {c.node_id: c for c, n in rows if _aware(n.last_seen_at) >= cutoff}

    def _bump(self, row: FleetDeploymentRow) -> None:
        row.generation = (row.generation or 0) + 1
        row.updated_at = utcnow()

    def _evaluate(self, session: Session, row: FleetDeploymentRow) -> None:
        """Promote the candidate when every live node of its stage ACKed it."""
        while row.candidate_revision is not None and row.state == PROGRESSING:
            candidate = row.candidate_revision
            live = self._subscribers(session, row.resource)
            stage = live if row.stage_nodes is None else {
                k: v for k, v in live.items() if k in set(row.stage_nodes)}
            waiting = [n for n, c in stage.items()
                       if (c.acked_revision or 0) < candidate and not c.held]
            if waiting or (row.stage_nodes is not None and not stage):
                return
            if row.stage_nodes is not None:
                row.message = (f"revision {candidate}: stage of {len(row.stage_nodes)} "
                               "node(s) ACKed; rolling out to every node")
                row.stage_nodes = None
                self._bump(row)
                continue
            rev = session.get(FleetRevisionRow, (row.id, candidate))
            if rev is not None:
                rev.promoted_at = utcnow()
            held = [n for n, c in stage.items() if c.held]
            row.stable_revision = candidate
            row.candidate_revision = None
            row.state = COMPLETE
            row.message = (f"revision {candidate} ACKed by {len(stage) - len(held)} node(s)"
                           + (f"; held back from {len(held)} incompatible" if held else ""))
            self._bump(row)

    # -- what nodes report (called by the xDS server) --------------------------------------

    def snapshot(self) -> dict[str, ResourceState]:
        with self.db.session() as session:
            out = {}
            for row in session.scalars(select(FleetDeploymentRow)):
                out[row.resource] = ResourceState(
                    row.resource, row.generation, row.state,
                    self._rev(session, row.id, row.stable_revision),
                    self._rev(session, row.id, row.candidate_revision),
                    frozenset(row.stage_nodes) if row.stage_nodes is not None else None)
            return out

    def generations(self) -> dict[str, int]:
        with self.db.session() as session:
            return dict(session.execute(select(FleetDeploymentRow.resource,
                                               FleetDeploymentRow.generation)).all())

    def node_seen(self, node: NodeInfo, *, connected: bool = True, fresh: bool = False) -> None:
        with self.db.session() as session:
            row = session.get(FleetNodeRow, node.node_id)
            if row is None:
                row = FleetNodeRow(node_id=node.node_id)
                session.add(row)
                fresh = True
            row.cluster = node.cluster[:255]
            row.locality = node.locality or None
            row.envoy_version = node.envoy_version[:32]
            row.user_agent = node.user_agent[:64]
            if fresh:
                row.connected_at = utcnow()
            row.connected = connected
            row.last_seen_at = utcnow()

    def heartbeat(self, node_ids: Sequence[str]) -> None:
        if not node_ids:
            return
        with self.db.session() as session:
            for row in session.scalars(select(FleetNodeRow).where(
                    FleetNodeRow.node_id.in_(list(node_ids)))):
                row.connected = True
                row.last_seen_at = utcnow()

    def node_disconnected(self, node_id: str) -> None:
        with self.db.session() as session:
            row = session.get(FleetNodeRow, node_id)
            if row is not None:
                row.connected = False
                row.last_seen_at = utcnow()
            session.flush()
            resources = session.scalars(select(FleetNodeConfigRow.resource).where(
                FleetNodeConfigRow.node_id == node_id)).all()
            self._evaluate_resources(session, list(resources))

    def _config(self, session: Session, node_id: str, resource: str) -> FleetNodeConfigRow:
        row = session.get(FleetNodeConfigRow, (node_id, resource))
        if row is None:
            row = FleetNodeConfigRow(node_id=node_id, resource=resource)
            session.add(row)
        return row

    def node_subscribed(self, node_id: str, resources: Sequence[str]) -> None:
        with self.db.session() as session:
            for resource in resources:
                self._config(session, node_id, resource[:200])

    def node_sent(self, node_id: str, resource: str, revision: int | None,
                  held: str | None) -> None:
        with self.db.session() as session:
            row = self._config(session, node_id, resource)
            row.sent_revision = revision
            row.held = held
            session.flush()
            if held:
                self._evaluate_resources(session, [resource])

    def node_acked(self, node_id: str, resource: str, revision: int, digest: str) -> None:
        with self.db.session() as session:
            row = self._config(session, node_id, resource)
            row.acked_revision = revision
            row.acked_digest = digest
            row.acked_at = utcnow()
            if row.nacked_revision is not None and row.nacked_revision <= revision:
                row.nacked_revision = row.nack_error = row.nacked_at = None
            session.flush()
            self._evaluate_resources(session, [resource])

    def node_nacked(self, node_id: str, resource: str, revision: int, error: str) -> None:
        error = error[: self.hub.settings.max_error_detail_bytes]
        with self.db.session() as session:
            row = self._config(session, node_id, resource)
            row.nacked_revision = revision
            row.nack_error = error
            row.nacked_at = utcnow()
            deployment = session.scalar(select(FleetDeploymentRow).where(
                FleetDeploymentRow.resource == resource).with_for_update())
            if (deployment is not None and deployment.candidate_revision == revision
                    and deployment.state == PROGRESSING):
                deployment.state = HALTED
                deployment.candidate_revision = None
                deployment.stage_nodes = None
                deployment.message = (
                    f"revision {revision} halted: NACKed by {node_id}: {error}; "
                    + (f"revision {deployment.stable_revision} keeps serving"
                       if deployment.stable_revision else "no earlier revision to serve"))
                self._bump(deployment)

    def _evaluate_resources(self, session: Session, resources: Sequence[str]) -> None:
        if not resources:
            return
        for row in session.scalars(select(FleetDeploymentRow).where(
                FleetDeploymentRow.resource.in_(list(resources))).with_for_update()):
            self._evaluate(session, row)


def _actor(principal: Principal) -> str:
    return principal.username or str(principal.kind.value)
