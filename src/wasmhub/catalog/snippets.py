"""Install snippets for one plugin version: the single source for the API and the web UI.

``install_snippets(...)`` returns :class:`~wasmhub.catalog.types.InstallSnippets`: the
``wasmhub pull`` command, an Istio ``WasmPlugin``, an Envoy Gateway
``EnvoyExtensionPolicy`` and a Higress ``WasmPlugin``. ``CatalogService.get_version``
fills them with the plugin's example config (the API's version detail returns them);
the plugin page calls :func:`version_snippets` again with the config its form produced.

Pinning. Every manifest references the image by tag (``oci://host/ns/name:tag``; Envoy
Gateway's ``image.url`` takes no scheme) and pins it with ``sha256``. For an OCI
reference all three platforms check that value against the **image manifest digest**,
not the Wasm module's checksum: Istio's ``sha256`` ("if an OCI image is referenced by tag
and this field is set, its checksum will be verified … after pulling"; the agent's cache
compares it with the digest the image fetch returns), Higress's copy of that field, and
Envoy Gateway's ``image.sha256`` ("must match the digest of the OCI image"). The module's
own sha256 is what those fields mean only for ``http(s)://`` module URLs, which the hub
does not hand out. So the pin here is the manifest digest's hex, and ``wasmhub pull``
names the same digest.

The YAML is produced by ``yaml.safe_dump`` so any plugin config serialises correctly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from wasmhub.catalog.types import InstallSnippets, VersionDetail

# The phases Istio's and Higress's WasmPlugin accept (PluginPhase enum).
ISTIO_PHASES = frozenset({"AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"})
_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")


def registry_host(base_url: str) -> str:
    """``http://127.0.0.1:5080/`` → ``127.0.0.1:5080``: what image references start with."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    return parts.netloc or parts.path.strip("/")


def _k8s_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return cleaned[:63].strip("-") or "plugin"


def _yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)


def manifest_pin(digest: str | None) -> str | None:
    """The hex the platforms' ``sha256`` fields take, from a ``sha256:`` manifest digest."""
    if not digest or not digest.startswith("sha256:"):
        return None
    hex_part = digest.split(":", 1)[1]
    return hex_part if _SHA256_HEX.match(hex_part) else None


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
) -> InstallSnippets:
    """The snippets for ``host/namespace/name:version`` pinned to ``digest`` when known.

    ``phase``/``priority``/``root_id``/``filter_types`` come from the plugin's metadata;
    an unknown phase is left out rather than guessed.
    """
    reference = f"{host}/{namespace}/{name}:{version}"
    oci_url = f"oci://{reference}"
    # The image manifest digest, not the module checksum: see the module docstring.
    sha256 = manifest_pin(digest)
    config: Any = plugin_config if plugin_config is not None else {}
    resource = _k8s_name(name)
    phase = phase.upper()
    network_only = tuple(filter_types) == ("network",)

    istio_spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "my-app"}},
        "url": oci_url,
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

    higress_spec: dict[str, Any] = {"url": oci_url}
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
    return InstallSnippets(
        oci_url=oci_url,
        digest=digest,
        pull_command=f"wasmhub pull {pull_ref}",
        istio_wasmplugin=_yaml(istio),
        envoy_gateway_extension_policy=_yaml(envoy_gateway),
        higress_wasmplugin=_yaml(higress),
    )


def version_snippets(version: VersionDetail, host: str, plugin_config: Any) -> InstallSnippets:
    """The snippets for a version as the catalog describes it, with ``plugin_config``."""
    return install_snippets(
        host=host, namespace=version.namespace, name=version.name,
        version=version.version.tag, digest=version.version.digest,
        plugin_config=plugin_config, phase=version.phase, priority=version.priority,
        root_id=version.root_id, filter_types=version.filter_types,
    )
