"""Copy-paste snippets on the plugin page: pull command and install manifests.

Owns the text of the four snippets (``wasmhub pull``, Istio ``WasmPlugin``, Envoy
Gateway ``EnvoyExtensionPolicy``, Higress ``WasmPlugin``) for one plugin version. Each
manifest references the image by tag and pins it with the manifest's sha256, the way
each platform documents (Istio and Higress: ``url: oci://…`` + ``sha256``; Envoy
Gateway: ``code.image.url`` without a scheme + ``sha256``). The YAML is produced by
``yaml.safe_dump`` so any plugin config serialises correctly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

# The phases Istio's and Higress's WasmPlugin accept (PluginPhase enum).
ISTIO_PHASES = frozenset({"AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"})

@dataclass(frozen=True)
class Snippet:
    key: str  # stable id: pull, istio, envoy-gateway, higress
    title: str  # shown as the tab label (a product name, not translated)
    language: str  # "shell" or "yaml"
    text: str


def registry_host(base_url: str) -> str:
    """``http://127.0.0.1:5080/`` → ``127.0.0.1:5080``: what image references start with."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    return parts.netloc or parts.path.strip("/")


def _k8s_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return cleaned[:63] or "plugin"


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)


def install_snippets(
    *,
    host: str,
    namespace: str,
    name: str,
    version: str,
    digest: str | None,
    plugin_config: Any = None,
    phase: str = "",
    priority: int | None = None,
    root_id: str = "",
    filter_types: tuple[str, ...] = (),
) -> list[Snippet]:
    """The snippets for ``host/namespace/name:version`` pinned to ``digest`` when known.

    ``phase``/``priority``/``root_id`` come from the plugin's metadata; an unknown phase
    is left out rather than guessed.
    """
    reference = f"{host}/{namespace}/{name}:{version}"
    sha256 = digest.split(":", 1)[1] if digest and digest.startswith("sha256:") else None
    config: Any = plugin_config if plugin_config is not None else {}
    resource = _k8s_name(name)
    phase = phase.upper()
    network_only = tuple(filter_types) == ("network",)

    istio_spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "my-app"}},
        "url": f"oci://{reference}",
    }
    if sha256:
        istio_spec["sha256"] = sha256
    if phase in ISTIO_PHASES:
        istio_spec["phase"] = phase
    if priority is not None:
        istio_spec["priority"] = priority
    if network_only:
        istio_spec["type"] = "NETWORK"
    if root_id:
        istio_spec["pluginName"] = root_id
    istio_spec["pluginConfig"] = config
    istio = {
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": resource, "namespace": "default"},
        "spec": istio_spec,
    }

    image: dict[str, Any] = {"url": reference}
    if sha256:
        image["sha256"] = sha256
    wasm: dict[str, Any] = {"name": resource}
    if root_id:
        wasm["rootID"] = root_id
    wasm.update({"code": {"type": "Image", "image": image}, "config": config})
    envoy_gateway = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyExtensionPolicy",
        "metadata": {"name": resource, "namespace": "default"},
        "spec": {
            "targetRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "my-route"}
            ],
            "wasm": [wasm],
        },
    }

    higress_spec: dict[str, Any] = {"url": f"oci://{reference}"}
    if sha256:
        higress_spec["sha256"] = sha256
    if phase in ISTIO_PHASES:
        higress_spec["phase"] = phase
    if priority is not None:
        higress_spec["priority"] = priority
    higress_spec["defaultConfig"] = config
    higress = {
        "apiVersion": "extensions.higress.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": resource, "namespace": "higress-system"},
        "spec": higress_spec,
    }

    pull_ref = f"{host}/{namespace}/{name}@{digest}" if digest else reference
    return [
        Snippet("pull", "wasmhub pull", "shell", f"wasmhub pull {pull_ref}"),
        Snippet("istio", "Istio", "yaml", _yaml(istio)),
        Snippet("envoy-gateway", "Envoy Gateway", "yaml", _yaml(envoy_gateway)),
        Snippet("higress", "Higress", "yaml", _yaml(higress)),
    ]
