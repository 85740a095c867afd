"""Kubernetes: a ``Cluster`` (lightkube) and the base of the CRD providers.

``Cluster`` wraps one lightkube ``Client`` (kubeconfig, ``KUBECONFIG`` or in-cluster
config). :meth:`Cluster.apply_all` is all-or-none:

1. discovery: every resource type must be served (else :class:`MissingResourceType`);
2. a server-side-apply **dry run** of every resource (the API server runs its schema, CEL
   and admission checks; a refusal there stops before anything is written);
3. the real server-side applies, with field manager ``wasmhub``; if one fails, the ones
   already applied are rolled back (created ones deleted, changed ones re-applied as they
   were) and the error is raised.

``dry_run=True`` stops after step 2 (``--dry-run=server``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx2
from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod

from wasmhub.deploy.common import LABEL_DEPLOYMENT, LABEL_MANAGED, MANAGED_BY
from wasmhub.deploy.errors import ClusterError, MissingResourceType, SpecError
from wasmhub.deploy.provider import Installation, Rendering
from wasmhub.deploy.spec import Deployment, Platform

FIELD_MANAGER = "wasmhub"


@dataclass(frozen=True)
class ResourceType:
    api_version: str  # group/version
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0]

    @property
    def version(self) -> str:
        return self.api_version.split("/", 1)[1]

    def resource(self) -> Any:
        return create_namespaced_resource(self.group, self.version, self.kind, self.plural)


class Cluster:
    """One Kubernetes API server."""

    def __init__(self, client: Client, server: str = "") -> None:
        self.client = client
        self.server = server

    @classmethod
    def connect(cls, kubeconfig: Path | None = None, context: str | None = None, *,
                in_cluster: bool = False, timeout: float = 30.0) -> Cluster:
        """A kubeconfig file, else ``in_cluster`` (the pod's service account), else the
        environment (``KUBECONFIG``, ``~/.kube/config`` or the service account)."""
        try:
            if kubeconfig:
                config = KubeConfig.from_file(str(kubeconfig))
            elif in_cluster:
                config = KubeConfig.from_service_account()
            else:
                config = KubeConfig.from_env()
            single = config.get(context_name=context)
        except Exception as exc:  # lightkube raises its own ConfigError, OSError, KeyError
            raise ClusterError(f"cannot load the Kubernetes config: {exc}") from exc
        if single is None:
            raise ClusterError(f"the Kubernetes config has no context {context or ''}".strip())
        client = Client(config=single, field_manager=FIELD_MANAGER,
                        timeout=httpx2.Timeout(timeout))
        return cls(client, single.cluster.server)

    @contextmanager
    def calls(self, what: str) -> Iterator[None]:
        """Map transport and API errors of the calls inside to one ClusterError line."""
        try:
            yield
        except httpx2.TransportError as exc:
            where = f" at {self.server}" if self.server else ""
            raise ClusterError(f"cannot reach the cluster{where} ({what}): {exc}") from exc
        except ApiError as exc:
            raise ClusterError(f"the cluster refused {what}: {exc.status.message}") from exc

    def served(self, rtype: ResourceType) -> bool:
        """Whether the cluster serves the type (a one-item list; 404: the CRD is missing)."""
        with self.calls(f"discovery of {rtype.kind} ({rtype.api_version})"):
            try:
                next(iter(self.client.list(rtype.resource(), namespace="*", chunk_size=1)),
                     None)
            except ApiError as exc:
                if exc.status.code == 404:
                    return False
                raise
        return True

    def get(self, rtype: ResourceType, name: str, namespace: str) -> dict[str, Any] | None:
        with self.calls(f"reading {rtype.kind}/{name}"):
            try:
                obj = self.client.get(rtype.resource(), name, namespace=namespace)
            except ApiError as exc:
                if exc.status.code == 404:
                    return None
                raise
        return _plain(obj)

    def apply_one(self, rtype: ResourceType, document: dict[str, Any], *, dry_run: bool
                  ) -> None:
        meta = document["metadata"]
        with self.calls(f"applying {rtype.kind}/{meta['name']}"):
            self.client.apply(rtype.resource().from_dict(document), name=meta["name"],
                              namespace=meta.get("namespace"), field_manager=FIELD_MANAGER,
                              force=True, dry_run=dry_run)

    def delete(self, rtype: ResourceType, name: str, namespace: str, *, dry_run: bool = False
               ) -> bool:
        with self.calls(f"deleting {rtype.kind}/{name}"):
            try:
                self.client.delete(rtype.resource(), name, namespace=namespace,
                                   dry_run=dry_run)
            except ApiError as exc:
                if exc.status.code == 404:
                    return False
                raise
        return True

    def objects(self, rtype: ResourceType, namespace: str | None,
                labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        with self.calls(f"listing {rtype.kind}"):
            items = self.client.list(rtype.resource(), namespace=namespace or "*",
                                     labels=labels)  # type: ignore[arg-type]
            return [_plain(i) for i in items]

    def pods(self, namespace: str, selector: dict[str, str]) -> list[str]:
        with self.calls("listing pods"):
            items = self.client.list(Pod, namespace=namespace,
                                     labels=selector)  # type: ignore[arg-type]
            return sorted(p.metadata.name for p in items if p.metadata and p.metadata.name)

    def apply_all(self, pairs: Sequence[tuple[ResourceType, dict[str, Any]]], *,
                  dry_run: bool = False) -> None:
        """All or none (see the module docstring)."""
        for rtype in dict.fromkeys(r for r, _ in pairs):
            if not self.served(rtype):
                raise MissingResourceType(rtype.api_version, rtype.kind)
        before = [self.get(r, d["metadata"]["name"], d["metadata"].get("namespace", ""))
                  for r, d in pairs]
        for rtype, document in pairs:
            self.apply_one(rtype, document, dry_run=True)
        if dry_run:
            return
        done: list[int] = []
        try:
            for index, (rtype, document) in enumerate(pairs):
                self.apply_one(rtype, document, dry_run=False)
                done.append(index)
        except ClusterError:
            for index in reversed(done):
                self._restore(pairs[index], before[index])
            raise

    def _restore(self, pair: tuple[ResourceType, dict[str, Any]],
                 previous: dict[str, Any] | None) -> None:
        rtype, document = pair
        meta = document["metadata"]
        try:
            if previous is None:
                self.delete(rtype, meta["name"], meta.get("namespace", ""))
            else:
                old = {k: v for k, v in previous.items() if k != "status"}
                old["metadata"] = {k: v for k, v in previous["metadata"].items()
                                   if k in ("name", "namespace", "labels", "annotations")}
                self.apply_one(rtype, old, dry_run=False)
        except ClusterError:
            pass  # best effort: the original error is what the user needs to see


def _plain(obj: Any) -> dict[str, Any]:
    data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return dict(data)


class KubernetesProvider:
    """apply/remove/status for the platforms whose resources are Kubernetes objects.

    Subclasses set ``platform``, ``title``, ``resource_types`` and implement ``render``
    and ``describe`` (an object → :class:`Installation`).
    """

    platform: ClassVar[Platform]
    title: ClassVar[str]
    resource_types: ClassVar[tuple[ResourceType, ...]]
    default_namespace: ClassVar[str] = "default"

    def render(self, deployment: Deployment) -> Rendering:
        raise NotImplementedError

    def describe(self, obj: dict[str, Any]) -> Installation:
        raise NotImplementedError

    def _type_of(self, document: dict[str, Any]) -> ResourceType:
        for rtype in self.resource_types:
            if rtype.api_version == document.get("apiVersion") and \
                    rtype.kind == document.get("kind"):
                return rtype
        raise SpecError("platform", f"{self.title} does not manage {document.get('kind')}")

    def apply(self, rendering: Rendering, cluster: Cluster, *, dry_run: bool = False
              ) -> list[str]:
        pairs = [(self._type_of(r.document), r.document) for r in rendering.resources]
        cluster.apply_all(pairs, dry_run=dry_run)
        return [r.label for r in rendering.resources]

    def remove(self, name: str, namespace: str, cluster: Cluster, *, dry_run: bool = False
               ) -> list[str]:
        removed: list[str] = []
        labels = {LABEL_MANAGED: MANAGED_BY, LABEL_DEPLOYMENT: name}
        for rtype in self.resource_types:
            if not cluster.served(rtype):
                continue
            for obj in cluster.objects(rtype, namespace, labels):
                found = obj["metadata"]["name"]
                if cluster.delete(rtype, found, namespace, dry_run=dry_run):
                    removed.append(f"{rtype.kind}/{found}")
        return removed

    def status(self, cluster: Cluster, namespace: str | None) -> list[Installation]:
        out: list[Installation] = []
        for rtype in self.resource_types:
            if not cluster.served(rtype):
                continue
            for obj in cluster.objects(rtype, namespace):
                found = self.describe(obj)
                if not found.plugin:
                    continue  # a Gateway / ServiceDefaults without a wasm extension
                selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
                workloads: tuple[str, ...] = ()
                if selector:
                    workloads = tuple(cluster.pods(found.namespace, selector))
                labels = (obj.get("metadata") or {}).get("labels") or {}
                out.append(Installation(**{**found.__dict__, "workloads": workloads,
                                           "managed": labels.get(LABEL_MANAGED) == MANAGED_BY}))
        return out
