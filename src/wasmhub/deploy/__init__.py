"""Deploy one hub plugin to every Envoy-based platform (docs/deploy.md).

- ``spec``: the typed :class:`Deployment` (and its ``PluginDeployment`` YAML form);
- ``provider``: the :class:`Provider` Protocol and what rendering produces;
- one module per platform: ``istio`` (WasmPlugin, TrafficExtension), ``envoy_gateway``,
  ``higress``, ``consul``, ``envoy`` (Bootstrap + ECDS), ``gloo``;
- ``schemas``: every rendered resource checked against the platform's published schema;
- ``checks``: what must hold before anything is applied; ``resolve``: ref → digest;
- ``kube``: the Kubernetes cluster (lightkube) behind apply / remove / status;
- ``gitops``: ``deploy -o DIR`` (resources + kustomization.yaml);
- ``serving``: the raw module by digest for proxies that fetch by URL + sha256.

:func:`provider_for` is the one registry of providers.
"""

from __future__ import annotations

from wasmhub.deploy.consul import ConsulProvider
from wasmhub.deploy.envoy import EnvoyProvider
from wasmhub.deploy.envoy_gateway import EnvoyGatewayProvider
from wasmhub.deploy.gloo import GlooProvider
from wasmhub.deploy.higress import HigressProvider
from wasmhub.deploy.istio import IstioTrafficExtensionProvider, IstioWasmPluginProvider
from wasmhub.deploy.provider import Provider, Rendering
from wasmhub.deploy.schemas import validate
from wasmhub.deploy.spec import Deployment, Platform

PROVIDERS: dict[Platform, Provider] = {
    p.platform: p
    for p in (
        IstioWasmPluginProvider(), IstioTrafficExtensionProvider(), EnvoyGatewayProvider(),
        HigressProvider(), ConsulProvider(), EnvoyProvider(), GlooProvider(),
    )
}


def provider_for(platform: Platform | str) -> Provider:
    return PROVIDERS[Platform(platform)]


def render(deployment: Deployment) -> Rendering:
    """Render with the deployment's provider and validate every resource (SchemaViolation)."""
    rendering = provider_for(deployment.platform).render(deployment)
    for resource in rendering.resources:
        validate(resource)
    return rendering


__all__ = ["PROVIDERS", "Deployment", "Platform", "Provider", "Rendering", "provider_for",
           "render"]
