"""Gloo (Gloo Edge Enterprise): the ``Gateway`` wasm filter option (gateway.solo.io/v1).

Renders ``spec.httpGateway.options.wasm.filters[]`` entries ``{image, config, filterStage,
name, rootId, vmType: V8}`` on the named Gateway (default ``gateway-proxy`` in
``gloo-system``), the shape ``wasme deploy gloo`` wrote. Applied with server-side apply,
only the fields wasmhub owns change on an existing Gateway. ``config`` is a
``google.protobuf.StringValue`` holding the JSON text. Phase maps to Gloo's filter stage
(AUTHN → AuthNStage, AUTHZ → AuthZStage, STATS → AcceptedStage, unspecified →
RouteStage, all ``During``); within a stage the list order holds, so several deployments
are sorted by :func:`~wasmhub.deploy.common.order_key`.

No Gloo schema is vendored here (Solo publishes none we hold), so this output is checked
only by the typed renderer; docs/deploy.md says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wasmhub.deploy.common import (
    config_text,
    metadata,
    order_key,
    refuse,
    require_resolved,
)
from wasmhub.deploy.envoy import STRING_VALUE
from wasmhub.deploy.errors import SpecError, UnsupportedOnPlatform
from wasmhub.deploy.kube import KubernetesProvider, ResourceType
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import CodeSource, Deployment, FailStrategy, Phase, Platform

GROUP_VERSION = "gateway.solo.io/v1"
DEFAULT_GATEWAY = "gateway-proxy"
_STAGE = {Phase.AUTHN: "AuthNStage", Phase.AUTHZ: "AuthZStage", Phase.STATS: "AcceptedStage",
          Phase.UNSPECIFIED: "RouteStage"}


def _filter(d: Deployment) -> dict[str, Any]:
    # Gloo's filter has no sha256 field: the image reference itself pins the digest.
    plugin = d.plugin
    out: dict[str, Any] = {"image": f"{plugin.registry}/{plugin.repository}@{plugin.digest}"}
    text = config_text(d)
    if text:
        out["config"] = {"@type": STRING_VALUE, "value": text}
    out["filterStage"] = {"stage": _STAGE[d.phase], "predicate": "During"}
    out["name"] = d.filter_name
    if d.root_id:
        out["rootId"] = d.root_id
    out["vmType"] = "V8"
    return out


class GlooProvider(KubernetesProvider):
    platform = Platform.GLOO
    title = "Gloo"
    resource_types = (ResourceType(GROUP_VERSION, "Gateway", "gateways"),)
    default_namespace = "gloo-system"

    def render(self, deployment: Deployment) -> Rendering:
        return self.render_gateway([deployment])

    def render_gateway(self, deployments: Sequence[Deployment]) -> Rendering:
        if not deployments:
            raise SpecError("plugins", "no deployment to render")
        for d in deployments:
            require_resolved(d)
            refuse(self.title, d, "targets.selector", "targets.targetRefs", "targets.services",
                   "targets.ingresses", "targets.domains", "match", "pluginType", "vmEnv",
                   "pullSecret", "pullPolicy")
            if d.code_source is CodeSource.HTTP:
                raise UnsupportedOnPlatform(self.title, "codeSource", "Gloo pulls images only")
            if d.fail_strategy is not FailStrategy.FAIL_CLOSED:
                raise UnsupportedOnPlatform(self.title, "failStrategy",
                                            "Gloo's wasm filter has no fail-open or reload")
        ordered = sorted(deployments, key=order_key)
        first = ordered[0]
        gateways = first.targets.gateways or [DEFAULT_GATEWAY]
        filters = [_filter(d) for d in ordered]
        resources = tuple(
            RenderedResource(
                {"apiVersion": GROUP_VERSION, "kind": "Gateway",
                 "metadata": metadata(first, name=gateway),
                 "spec": {"httpGateway": {"options": {"wasm": {"filters": filters}}}}},
                SchemaRef("none", "gateway.solo.io/v1/Gateway"),
                f"gloo-gateway-{gateway}.yaml",
            )
            for gateway in gateways
        )
        warnings: list[str] = []
        if first.priority is not None:
            warnings.append("Gloo has no priority: filters run in list order within a stage")
        return Rendering(first, resources, tuple(warnings))

    def describe(self, obj: dict[str, Any]) -> Installation:
        meta = obj.get("metadata") or {}
        filters = ((((obj.get("spec") or {}).get("httpGateway") or {}).get("options") or {})
                   .get("wasm") or {}).get("filters") or [{}]
        image = str(filters[0].get("image", ""))
        return Installation(
            platform=self.title, kind="Gateway", namespace=meta.get("namespace", ""),
            name=meta.get("name", ""), plugin=image,
            digest=image.split("@sha256:", 1)[1] if "@sha256:" in image else "",
            phase=str((filters[0].get("filterStage") or {}).get("stage", "")), priority=None,
            targets=(f"Gateway/{meta.get('name', '')}",),
        )
