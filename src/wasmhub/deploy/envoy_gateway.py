"""Envoy Gateway: ``EnvoyExtensionPolicy`` (gateway.envoyproxy.io/v1alpha1) with ``wasm[]``.

Code is an ``Image`` (the hub's registry; ``sha256`` = the manifest digest, with
``pullSecretRef`` for a private plugin) or ``HTTP`` (the hub's ``/modules/`` URL and the
module's sha256). Envoy Gateway has no phase or priority: extensions run in ``wasm[]``
order, so :meth:`EnvoyGatewayProvider.render_policy` puts several deployments that share
targets into one policy ordered by :func:`~wasmhub.deploy.common.order_key`; a
single deployment records its phase/priority as annotations. Only host-key environment
variables exist (``env.hostKeys``); ``failOpen`` is the fail strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wasmhub.deploy.common import (
    config_object,
    metadata,
    order_key,
    ordering_annotations,
    refuse,
    require_resolved,
    source_of,
)
from wasmhub.deploy.errors import SpecError
from wasmhub.deploy.kube import KubernetesProvider, ResourceType
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import CodeSource, Deployment, FailStrategy, Phase, Platform

GROUP_VERSION = "gateway.envoyproxy.io/v1alpha1"
KIND = "EnvoyExtensionPolicy"


def _wasm(deployment: Deployment) -> dict[str, Any]:
    plugin = deployment.plugin
    out: dict[str, Any] = {"name": deployment.filter_name}
    if deployment.root_id:
        out["rootID"] = deployment.root_id
    code: dict[str, Any]
    if source_of(deployment) is CodeSource.OCI:
        image: dict[str, Any] = {"url": plugin.image, "sha256": plugin.manifest_sha256}
        if deployment.pull_secret:
            image["pullSecretRef"] = {"group": "", "kind": "Secret",
                                      "name": deployment.pull_secret}
        code = {"type": "Image", "image": image}
    else:
        code = {"type": "HTTP", "http": {"url": plugin.module_url,
                                         "sha256": plugin.module_sha256}}
    if deployment.pull_policy is not None:
        code["pullPolicy"] = deployment.pull_policy.value
    out["code"] = code
    config = config_object(deployment, "Envoy Gateway", "config")
    if config is not None:
        out["config"] = config
    out["failOpen"] = deployment.fail_strategy is FailStrategy.FAIL_OPEN
    if deployment.vm_env:
        out["env"] = {"hostKeys": [e.name for e in deployment.vm_env]}
    return out


class EnvoyGatewayProvider(KubernetesProvider):
    platform = Platform.ENVOY_GATEWAY
    title = "Envoy Gateway"
    resource_types = (ResourceType(GROUP_VERSION, KIND, "envoyextensionpolicies"),)

    def render(self, deployment: Deployment) -> Rendering:
        return self.render_policy([deployment])

    def render_policy(self, deployments: Sequence[Deployment]) -> Rendering:
        """One policy for ``deployments`` (same namespace and targets), in chain order."""
        if not deployments:
            raise SpecError("plugins", "no deployment to render")
        first = deployments[0]
        for d in deployments:
            require_resolved(d)
            refuse(self.title, d, "targets.selector", "targets.services",
                   "targets.ingresses", "targets.domains", "targets.gateways", "match",
                   "pluginType", "failStrategy", "vmEnv:inline")
            if source_of(d) is CodeSource.HTTP and d.pull_secret:
                refuse(self.title, d, "pullSecret")
            if (d.namespace, d.targets.target_refs) != (first.namespace,
                                                        first.targets.target_refs):
                raise SpecError("targets.targetRefs",
                                "deployments combined into one policy share namespace and targets")
        if not first.targets.target_refs:
            raise SpecError("targets.targetRefs", "Envoy Gateway attaches a policy to a Gateway "
                            "or route: give targetRefs (e.g. --target-ref HTTPRoute/my-route)")
        ordered = sorted(deployments, key=order_key)
        meta = metadata(first)
        warnings: list[str] = []
        if len(ordered) == 1 and (first.phase is not Phase.UNSPECIFIED or first.priority):
            meta["annotations"].update(ordering_annotations(first))
            warnings.append("Envoy Gateway has no phase or priority: extensions run in the "
                            "policy's wasm[] order (recorded as wasmhub.io/ annotations)")
        document = {
            "apiVersion": GROUP_VERSION, "kind": KIND, "metadata": meta,
            "spec": {
                "targetRefs": [{"group": r.group, "kind": r.kind, "name": r.name}
                               for r in first.targets.target_refs],
                "wasm": [_wasm(d) for d in ordered],
            },
        }
        resource = RenderedResource(document, SchemaRef("crd", f"{GROUP_VERSION}/{KIND}"),
                                    f"envoyextensionpolicy-{first.name}.yaml")
        return Rendering(first, (resource,), tuple(warnings))

    def describe(self, obj: dict[str, Any]) -> Installation:
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        wasm = (spec.get("wasm") or [{}])[0]
        code = wasm.get("code") or {}
        source = code.get("image") or code.get("http") or {}
        annotations = meta.get("annotations") or {}
        priority = annotations.get("wasmhub.io/priority")
        return Installation(
            platform=self.title, kind=KIND, namespace=meta.get("namespace", ""),
            name=meta.get("name", ""), plugin=str(source.get("url", "")),
            digest=str(source.get("sha256", "")),
            phase=str(annotations.get("wasmhub.io/phase", "")),
            priority=int(priority) if priority and priority.isdigit() else None,
            targets=tuple(f"{r.get('kind')}/{r.get('name')}"
                          for r in spec.get("targetRefs") or []),
        )
