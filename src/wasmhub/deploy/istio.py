"""Istio: ``WasmPlugin`` and its 2026 successor ``TrafficExtension`` (extensions.istio.io).

Every WasmPlugin field the hub can fill: ``selector`` or ``targetRefs`` (Services become
``targetRefs`` of kind Service for waypoints), ``url`` + ``sha256`` (the OCI image and its
manifest digest, or the hub's ``/modules/`` URL and the module's sha256),
``imagePullPolicy``, ``imagePullSecret``, ``pluginConfig``, ``pluginName`` (the root id),
``phase``, ``priority``, ``failStrategy``, ``vmConfig.env``, ``match`` and ``type``.
``TrafficExtension`` carries the same under ``wasm`` with ``phase``/``priority``/``match``
and the target at the top.

Istio's agent pulls OCI images over HTTPS; a plain-HTTP hub must be listed in the agent's
``WASM_INSECURE_REGISTRIES`` (the rendering says so), or use the HTTP code source.
"""

from __future__ import annotations

from typing import Any

from wasmhub.deploy.common import (
    code_pin,
    config_object,
    istio_env,
    metadata,
    plain_http_hub,
    refuse,
    require_resolved,
    source_of,
)
from wasmhub.deploy.kube import KubernetesProvider, ResourceType
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import CodeSource, Deployment, FailStrategy, Phase, Platform

GROUP_VERSION = "extensions.istio.io/v1alpha1"
_FAIL = {FailStrategy.FAIL_CLOSED: "FAIL_CLOSE", FailStrategy.FAIL_OPEN: "FAIL_OPEN",
         FailStrategy.RELOAD: "FAIL_RELOAD"}


def insecure_registry_note(deployment: Deployment) -> tuple[str, ...]:
    if source_of(deployment) is CodeSource.OCI and plain_http_hub(deployment):
        host = deployment.plugin.registry
        return (
            f"this hub serves plain HTTP: Istio's agent pulls OCI images over HTTPS unless the"
            f" registry is listed in WASM_INSECURE_REGISTRIES (set WASM_INSECURE_REGISTRIES="
            f"{host} in the proxy's environment, e.g. meshConfig.defaultConfig.proxyMetadata),"
            " or deploy with --source http to fetch the module from /modules/ by sha256",
        )
    return ()


def _targets(deployment: Deployment, platform: str) -> dict[str, Any]:
    refuse(platform, deployment, "targets.ingresses", "targets.domains", "targets.gateways")
    t = deployment.targets
    out: dict[str, Any] = {}
    if t.selector is not None:
        if t.services:
            refuse(platform, deployment, "targets.services")
        out["selector"] = {"matchLabels": dict(t.selector)}
        return out
    refs = [{"group": r.group, "kind": r.kind, "name": r.name} for r in t.target_refs]
    refs += [{"group": "", "kind": "Service", "name": s} for s in t.services]
    if refs:
        out["targetRefs"] = refs
    return out


def _wasm_fields(deployment: Deployment, platform: str) -> dict[str, Any]:
    url, sha256 = code_pin(deployment)
    out: dict[str, Any] = {"url": url, "sha256": sha256}
    if deployment.pull_policy is not None:
        out["imagePullPolicy"] = deployment.pull_policy.value
    if deployment.pull_secret is not None:
        out["imagePullSecret"] = deployment.pull_secret
    config = config_object(deployment, platform, "pluginConfig")
    if config is not None:
        out["pluginConfig"] = config
    if deployment.root_id:
        out["pluginName"] = deployment.root_id
    out["failStrategy"] = _FAIL[deployment.fail_strategy]
    if deployment.vm_env:
        out["vmConfig"] = {"env": istio_env(deployment)}
    out["type"] = deployment.plugin_type.value.upper()
    return out


def _match(deployment: Deployment) -> list[dict[str, Any]]:
    return [
        {"mode": m.mode.value, **({"ports": [{"number": p} for p in m.ports]} if m.ports else {})}
        for m in deployment.match
    ]


def _describe(platform: str, kind: str, obj: dict[str, Any], wasm: dict[str, Any]
              ) -> Installation:
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    targets: list[str] = []
    if "selector" in spec:
        labels = (spec["selector"] or {}).get("matchLabels") or {}
        targets.append("selector " + ",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    targets += [f"{r.get('kind')}/{r.get('name')}" for r in spec.get("targetRefs") or []]
    return Installation(
        platform=platform, kind=kind, namespace=meta.get("namespace", ""),
        name=meta.get("name", ""), plugin=str(wasm.get("url", "")),
        digest=str(wasm.get("sha256", "")), phase=str(spec.get("phase", "")),
        priority=spec.get("priority"), targets=tuple(targets) or ("all workloads",),
    )


def _order_and_match(deployment: Deployment, spec: dict[str, Any]) -> None:
    """Phase, priority and traffic match: the same fields in WasmPlugin and TrafficExtension."""
    if deployment.phase is not Phase.UNSPECIFIED:
        spec["phase"] = deployment.phase.value
    if deployment.priority is not None:
        spec["priority"] = deployment.priority
    if deployment.match:
        spec["match"] = _match(deployment)


def _rendering(deployment: Deployment, kind: str, spec: dict[str, Any]) -> Rendering:
    document = {"apiVersion": GROUP_VERSION, "kind": kind,
                "metadata": metadata(deployment), "spec": spec}
    resource = RenderedResource(document, SchemaRef("crd", f"{GROUP_VERSION}/{kind}"),
                                f"{kind.lower()}-{deployment.name}.yaml")
    return Rendering(deployment, (resource,), insecure_registry_note(deployment))


class IstioWasmPluginProvider(KubernetesProvider):
    platform = Platform.ISTIO
    title = "Istio"
    resource_types = (ResourceType(GROUP_VERSION, "WasmPlugin", "wasmplugins"),)

    def render(self, deployment: Deployment) -> Rendering:
        require_resolved(deployment)
        spec = _targets(deployment, self.title)
        spec.update(_wasm_fields(deployment, self.title))
        _order_and_match(deployment, spec)
        return _rendering(deployment, "WasmPlugin", spec)

    def describe(self, obj: dict[str, Any]) -> Installation:
        return _describe(self.title, "WasmPlugin", obj, obj.get("spec") or {})


class IstioTrafficExtensionProvider(KubernetesProvider):
    platform = Platform.ISTIO_TRAFFIC_EXTENSION
    title = "Istio TrafficExtension"
    resource_types = (ResourceType(GROUP_VERSION, "TrafficExtension", "trafficextensions"),)

    def render(self, deployment: Deployment) -> Rendering:
        require_resolved(deployment)
        spec = _targets(deployment, self.title)
        _order_and_match(deployment, spec)
        spec["wasm"] = _wasm_fields(deployment, self.title)
        return _rendering(deployment, "TrafficExtension", spec)

    def describe(self, obj: dict[str, Any]) -> Installation:
        return _describe(self.title, "TrafficExtension", obj,
                         (obj.get("spec") or {}).get("wasm") or {})
