"""Higress: ``WasmPlugin`` (extensions.higress.io/v1alpha1), gateway-wide with match rules.

No selector: a Higress plugin applies to the gateway. Without targets the config is the
``defaultConfig`` (every route); with ingresses (``namespace/name``), domains (wildcards)
or services, the default is disabled and each target kind becomes one ``matchRules`` entry
carrying the config (rules are tried in order; the first match wins). Fail strategies are
FAIL_CLOSE/FAIL_OPEN only.
"""

from __future__ import annotations

from typing import Any

from wasmhub.deploy.common import (
    code_pin,
    config_object,
    istio_env,
    metadata,
    refuse,
    require_resolved,
)
from wasmhub.deploy.istio import insecure_registry_note
from wasmhub.deploy.kube import KubernetesProvider, ResourceType
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import Deployment, FailStrategy, Phase, Platform

GROUP_VERSION = "extensions.higress.io/v1alpha1"
_PHASE = {Phase.AUTHN: "AUTHN", Phase.AUTHZ: "AUTHZ", Phase.STATS: "STATS",
          Phase.UNSPECIFIED: "UNSPECIFIED_PHASE"}


class HigressProvider(KubernetesProvider):
    platform = Platform.HIGRESS
    title = "Higress"
    resource_types = (ResourceType(GROUP_VERSION, "WasmPlugin", "wasmplugins"),)
    default_namespace = "higress-system"

    def render(self, deployment: Deployment) -> Rendering:
        d = deployment
        require_resolved(d)
        refuse(self.title, d, "targets.selector", "targets.targetRefs", "targets.gateways",
               "match", "pluginType", "failStrategy")
        url, sha256 = code_pin(d)
        spec: dict[str, Any] = {"url": url, "sha256": sha256}
        if d.pull_policy is not None:
            spec["imagePullPolicy"] = d.pull_policy.value
        if d.pull_secret is not None:
            spec["imagePullSecret"] = d.pull_secret
        if d.root_id:
            spec["pluginName"] = d.root_id
        spec["phase"] = _PHASE[d.phase]
        if d.priority is not None:
            spec["priority"] = d.priority
        spec["failStrategy"] = "FAIL_OPEN" if d.fail_strategy is FailStrategy.FAIL_OPEN \
            else "FAIL_CLOSE"
        if d.vm_env:
            spec["vmConfig"] = {"env": istio_env(d)}
        config = config_object(d, self.title, "defaultConfig") or {}
        t = d.targets
        rules = [{key: list(values), "config": config}
                 for key, values in (("ingress", t.ingresses), ("domain", t.domains),
                                     ("service", t.services)) if values]
        if rules:
            spec["defaultConfigDisable"] = True
            spec["matchRules"] = rules
        else:
            spec["defaultConfig"] = config
            spec["defaultConfigDisable"] = False
        document = {"apiVersion": GROUP_VERSION, "kind": "WasmPlugin",
                    "metadata": metadata(d), "spec": spec}
        resource = RenderedResource(document, SchemaRef("crd", f"{GROUP_VERSION}/WasmPlugin"),
                                    f"higress-wasmplugin-{d.name}.yaml")
        return Rendering(d, (resource,), insecure_registry_note(d))

    def describe(self, obj: dict[str, Any]) -> Installation:
        spec = obj.get("spec") or {}
        meta = obj.get("metadata") or {}
        targets = [f"{key} {', '.join(rule[key])}" for rule in spec.get("matchRules") or []
                   for key in ("ingress", "domain", "service") if rule.get(key)]
        return Installation(
            platform=self.title, kind="WasmPlugin", namespace=meta.get("namespace", ""),
            name=meta.get("name", ""), plugin=str(spec.get("url", "")),
            digest=str(spec.get("sha256", "")), phase=str(spec.get("phase", "")),
            priority=spec.get("priority"), targets=tuple(targets) or ("whole gateway",),
        )
