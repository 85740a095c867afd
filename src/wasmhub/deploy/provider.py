"""The ``Provider`` Protocol every platform implements, and what rendering produces.

A provider turns a resolved :class:`~wasmhub.deploy.spec.Deployment` into the platform's
own resources (:meth:`Provider.render`), and puts them on / takes them off / reports them
from a target (:meth:`apply`, :meth:`remove`, :meth:`status`): a Kubernetes cluster for the
CRD platforms (``wasmhub.deploy.kube``), a directory of files for plain Envoy.

Rendering never talks to anything: it is a pure function of the deployment, so the catalog's
snippets, ``deploy -o DIR``, the checks and ``apply`` all see the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from wasmhub.deploy.spec import Deployment, Platform

if TYPE_CHECKING:
    from wasmhub.deploy.kube import Cluster


class _NoAliases(yaml.SafeDumper):
    """Shared sub-objects are written out in full: manifests never carry YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_NoAliases, sort_keys=False, allow_unicode=True,
                     width=100)


@dataclass(frozen=True)
class SchemaRef:
    """Which published schema a resource is checked against."""

    kind: str  # "crd": a CRD's OpenAPI v3; "envoy": an Envoy proto message; "none"
    name: str  # "extensions.istio.io/v1alpha1/WasmPlugin" or "envoy.config...Bootstrap"


@dataclass(frozen=True)
class RenderedResource:
    document: dict[str, Any]
    schema: SchemaRef
    filename: str  # the file ``deploy -o DIR`` writes it to

    @property
    def label(self) -> str:
        kind = self.document.get("kind") or self.schema.name.rsplit(".", 1)[-1]
        name = (self.document.get("metadata") or {}).get("name") or self.document.get("name")
        return f"{kind}/{name}" if name else str(kind)

    @property
    def is_kubernetes(self) -> bool:
        return "apiVersion" in self.document and "kind" in self.document

    def yaml(self) -> str:
        return to_yaml(self.document)


@dataclass(frozen=True)
class Rendering:
    deployment: Deployment
    resources: tuple[RenderedResource, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # how to use the output (e.g. Envoy run line)

    def yaml(self) -> str:
        """All resources as one multi-document YAML stream."""
        return "---\n".join(r.yaml() for r in self.resources)


@dataclass(frozen=True)
class Installation:
    """One installed plugin resource, as ``wasmhub status`` lists it."""

    platform: str
    kind: str
    namespace: str
    name: str
    plugin: str  # the image or URL it runs
    digest: str  # the pinned sha256 (manifest or module), "" when unpinned
    phase: str
    priority: int | None
    targets: tuple[str, ...]  # selector / refs / rules as text
    workloads: tuple[str, ...] = ()  # pods the selector matches
    managed: bool = False  # applied by wasmhub (field manager / label)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform, "kind": self.kind, "namespace": self.namespace,
            "name": self.name, "plugin": self.plugin, "digest": self.digest,
            "phase": self.phase, "priority": self.priority, "targets": list(self.targets),
            "workloads": list(self.workloads), "managed": self.managed,
        }


class Provider(Protocol):
    """One deploy platform. Implementations live one per module in ``wasmhub.deploy``."""

    @property
    def platform(self) -> Platform: ...

    @property
    def title(self) -> str:
        """The product name shown in tabs and tables."""
        ...

    def render(self, deployment: Deployment) -> Rendering:
        """The platform's resources for ``deployment`` (resolved); pure, no I/O.

        Raises ``SpecError``/``UnsupportedOnPlatform`` naming the field the platform
        cannot express, rather than silently dropping it.
        """
        ...

    def apply(self, rendering: Rendering, cluster: Cluster, *, dry_run: bool = False
              ) -> list[str]:
        """Create or update every resource (all or none); returns their labels."""
        ...

    def remove(self, name: str, namespace: str, cluster: Cluster, *, dry_run: bool = False
               ) -> list[str]:
        """Delete what ``apply`` created for deployment ``name``; returns the labels removed."""
        ...

    def status(self, cluster: Cluster, namespace: str | None) -> list[Installation]:
        """Every resource of this platform's kinds (one namespace or all)."""
        ...
