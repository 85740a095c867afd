"""What several providers share: metadata, ordering, config text, refusals of fields.

Ordering on platforms that only have a list (Envoy Gateway's ``wasm[]``, Gloo's filters,
a plain Envoy filter chain): :func:`order_key` sorts by phase (AUTHN, AUTHZ, STATS,
UNSPECIFIED), then by priority *descending* (Istio's rule: higher runs first), then by
name, so the list matches what Istio would build from the same phases and priorities.
"""

from __future__ import annotations

import json
import re
from typing import Any

from wasmhub.deploy.errors import SpecError, UnsupportedOnPlatform
from wasmhub.deploy.spec import CodeSource, Deployment, FailStrategy, Phase

MANAGED_BY = "wasmhub"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_DEPLOYMENT = "wasmhub.io/deployment"
ANNOTATION_PLUGIN = "wasmhub.io/plugin"
ANNOTATION_DIGEST = "wasmhub.io/digest"
ANNOTATION_MODULE = "wasmhub.io/module-sha256"
ANNOTATION_PHASE = "wasmhub.io/phase"
ANNOTATION_PRIORITY = "wasmhub.io/priority"

PHASE_RANK = {Phase.AUTHN: 0, Phase.AUTHZ: 1, Phase.STATS: 2, Phase.UNSPECIFIED: 3}


def order_key(deployment: Deployment) -> tuple[int, int, str]:
    return (PHASE_RANK[deployment.phase], -(deployment.priority or 0), deployment.name)


def require_resolved(deployment: Deployment) -> None:
    if not deployment.plugin.resolved:
        raise SpecError(
            "plugin.digest",
            f"{deployment.plugin.ref} is not resolved to a digest; resolve it first "
            "(every resource pins an immutable digest)",
        )


def metadata(deployment: Deployment, name: str | None = None,
             namespace: str | None = None) -> dict[str, Any]:
    plugin = deployment.plugin
    annotations = {
        ANNOTATION_PLUGIN: f"{plugin.registry}/{plugin.repository}"
                           + (f":{plugin.tag}" if plugin.tag else ""),
        ANNOTATION_DIGEST: plugin.digest or "",
        ANNOTATION_MODULE: plugin.module_sha256 or "",
    }
    return {
        "name": name or deployment.name,
        "namespace": namespace or deployment.namespace,
        "labels": {LABEL_MANAGED: MANAGED_BY, LABEL_DEPLOYMENT: deployment.name},
        "annotations": annotations,
    }


def ordering_annotations(deployment: Deployment) -> dict[str, str]:
    """Phase and priority recorded on platforms that cannot express them."""
    out = {ANNOTATION_PHASE: deployment.phase.value}
    if deployment.priority is not None:
        out[ANNOTATION_PRIORITY] = str(deployment.priority)
    return out


def config_object(deployment: Deployment, platform: str, field: str) -> dict[str, Any] | None:
    """The config as a JSON object (Struct fields accept nothing else)."""
    if deployment.config is None:
        return None
    if not isinstance(deployment.config, dict):
        got = type(deployment.config).__name__
        raise UnsupportedOnPlatform(platform, "config", f"{field} is a JSON object; got {got}")
    return deployment.config


def config_text(deployment: Deployment) -> str:
    """The config as the string the plugin receives at proxy_on_configure."""
    if deployment.config is None:
        return ""
    if isinstance(deployment.config, str):
        return deployment.config
    return json.dumps(deployment.config, separators=(",", ":"), ensure_ascii=False)


def refuse(platform: str, deployment: Deployment, *fields: str) -> None:
    """Raise UnsupportedOnPlatform for the first of ``fields`` the deployment sets.

    A field id is the spec field's name, optionally with a ``:variant`` of the check.
    """
    d = deployment
    t = d.targets
    checks: dict[str, tuple[bool, str]] = {
        "targets.selector": (t.selector is not None, "no workload label selector"),
        "targets.targetRefs": (bool(t.target_refs), "no Gateway API targetRefs"),
        "targets.services": (bool(t.services), "no per-service targeting"),
        "targets.ingresses": (bool(t.ingresses), "no per-ingress targeting"),
        "targets.domains": (bool(t.domains), "no per-domain targeting"),
        "targets.gateways": (bool(t.gateways), "no Gloo gateways"),
        "match": (bool(d.match), "no traffic direction/port match"),
        "pluginType": (d.plugin_type.value != "http", "HTTP filters only"),
        "failStrategy": (d.fail_strategy is FailStrategy.RELOAD,
                         "no reload fail strategy (fail-closed or fail-open only)"),
        "vmEnv:inline": (any(not e.from_host for e in d.vm_env),
                         "no inline VM environment values (host keys only)"),
        "vmEnv": (bool(d.vm_env), "no VM environment variables"),
        "pullSecret": (d.pull_secret is not None, "no pull secret (the module is fetched by URL)"),
        "pullPolicy": (d.pull_policy is not None, "no pull policy"),
    }
    for name in fields:
        present, why = checks[name]
        if present:
            raise UnsupportedOnPlatform(platform, name.split(":")[0], why)


def source_of(deployment: Deployment) -> CodeSource:
    """The code source for platforms that can pull images: OCI unless told otherwise."""
    return deployment.code_source or CodeSource.OCI


def require_http_source(platform: str, deployment: Deployment) -> None:
    if deployment.code_source is CodeSource.OCI:
        raise UnsupportedOnPlatform(platform, "codeSource",
                                    "no OCI support: the module is fetched over HTTP")


def k8s_name(value: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return cleaned[:63].strip("-") or "plugin"


def istio_env(deployment: Deployment) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "valueFrom": "HOST"} if e.from_host
        else {"name": e.name, "valueFrom": "INLINE", "value": e.value}
        for e in deployment.vm_env
    ]


def code_pin(deployment: Deployment) -> tuple[str, str]:
    """(url, sha256) for Istio-style ``url``/``sha256``: the OCI image + manifest digest,
    or the hub's module URL + the module's own sha256."""
    plugin = deployment.plugin
    if source_of(deployment) is CodeSource.OCI:
        return plugin.oci_url, plugin.manifest_sha256
    return plugin.module_url, plugin.module_sha256 or ""


def plain_http_hub(deployment: Deployment) -> bool:
    return deployment.plugin.hub_url.startswith("http://")
