"""Install snippets for one plugin version, rendered by the deploy providers.

The single source for the API's version detail and the web plugin page: a snippet is what
``wasmhub.deploy``'s provider for that platform renders (and validates against the
platform's schema) from a :class:`~wasmhub.deploy.spec.Deployment` built from the
catalog's facts, with placeholder targets (``app: my-app``, ``HTTPRoute/my-route``,
service ``my-service``) a user replaces — or sets with ``wasmhub deploy``'s options.

Which platforms: every platform the page claims (the version's compatible platforms),
in a fixed order; Istio also gets its ``TrafficExtension`` form. Without a claim (nothing
verified yet) the three Kubernetes gateways are shown, as before.

Pinning. OCI platforms reference the image by tag and pin ``sha256`` to the **image
manifest digest** (what Istio, Higress and Envoy Gateway verify for an ``oci://``
reference). Consul and plain Envoy have no OCI support: they fetch the raw module from
the hub's ``/modules/sha256:<hex>.wasm`` and verify the **module's** sha256. A version
without a usable manifest digest gets no platform snippets, only the pull command: every
resource must pin something immutable.

Each snippet carries the provider's notes, e.g. that Istio needs
``WASM_INSECURE_REGISTRIES`` for a plain-HTTP hub.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from wasmhub.catalog.types import InstallSnippets, Snippet, VersionDetail
from wasmhub.deploy import PROVIDERS, render
from wasmhub.deploy.common import k8s_name
from wasmhub.deploy.errors import SpecError
from wasmhub.deploy.spec import Deployment, Phase, Platform, PluginType

_SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")
ORDER = (Platform.ISTIO, Platform.ISTIO_TRAFFIC_EXTENSION, Platform.ENVOY_GATEWAY,
         Platform.HIGRESS, Platform.CONSUL, Platform.ENVOY, Platform.GLOO)
KEYS = {Platform.ISTIO: "istio", Platform.ISTIO_TRAFFIC_EXTENSION: "istio-trafficextension",
        Platform.ENVOY_GATEWAY: "envoy-gateway", Platform.HIGRESS: "higress",
        Platform.CONSUL: "consul", Platform.ENVOY: "envoy", Platform.GLOO: "gloo"}
UNCLAIMED_DEFAULT = frozenset({"istio", "envoy-gateway", "higress"})
PLACEHOLDER_TARGETS: dict[Platform, dict[str, Any]] = {
    Platform.ISTIO: {"selector": {"app": "my-app"}},
    Platform.ISTIO_TRAFFIC_EXTENSION: {"selector": {"app": "my-app"}},
    Platform.ENVOY_GATEWAY: {"targetRefs": [{"kind": "HTTPRoute", "name": "my-route"}]},
    Platform.CONSUL: {"services": ["my-service"]},
}


def registry_host(base_url: str) -> str:
    """``http://127.0.0.1:5080/`` → ``127.0.0.1:5080``: what image references start with."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    return parts.netloc or parts.path.strip("/")


def hub_url(base_url: str) -> str:
    """The hub's scheme://host[:port] (the base of ``/modules/``)."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    return f"{parts.scheme}://{parts.netloc or parts.path.strip('/')}"


def manifest_pin(digest: str | None) -> str | None:
    """The hex the platforms' ``sha256`` fields take, from a ``sha256:`` manifest digest."""
    if not digest or not digest.startswith("sha256:"):
        return None
    hex_part = digest.split(":", 1)[1]
    return hex_part if _SHA256_HEX.match(hex_part) else None


def _phase(phase: str) -> Phase:
    try:
        return Phase(phase.upper().removesuffix("_PHASE"))
    except ValueError:
        return Phase.UNSPECIFIED


def base_deployment(
    *, base_url: str, namespace: str, name: str, version: str, digest: str,
    module_sha256: str, plugin_config: Any, phase: str, priority: int | None,
    root_id: str, filter_types: tuple[str, ...],
) -> dict[str, Any]:
    """The Deployment fields a catalog version implies (without platform and targets)."""
    host = registry_host(base_url)
    return {
        "name": k8s_name(name), "platform": Platform.ISTIO,
        "plugin": {"ref": f"{host}/{namespace}/{name}:{version}", "registry": host,
                   "repository": f"{namespace}/{name}", "tag": version, "digest": digest,
                   "moduleSha256": module_sha256, "hubUrl": hub_url(base_url)},
        "phase": _phase(phase),
        "priority": priority if priority is not None and 1 <= priority <= 1000 else None,
        "config": plugin_config if plugin_config is not None else {},
        "rootId": root_id or None,
        "pluginType": PluginType.NETWORK if tuple(filter_types) == ("network",)
        else PluginType.HTTP,
    }


def _snippet(platform: Platform, fields: dict[str, Any]) -> Snippet:
    provider = PROVIDERS[platform]
    data = {**fields, "platform": platform,
            "namespace": getattr(provider, "default_namespace", "default"),
            "targets": PLACEHOLDER_TARGETS.get(platform, {})}
    key = KEYS[platform]
    try:
        rendering = render(Deployment.model_validate(data))
    except (SpecError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        return Snippet(key, provider.title, "yaml", f"# not installable on {provider.title}:"
                       f" {message}\n", ())
    return Snippet(key, provider.title, "yaml", rendering.yaml(),
                   rendering.warnings + rendering.notes)


def install_snippets(
    *,
    base_url: str,
    namespace: str,
    name: str,
    version: str,
    digest: str | None,
    module_sha256: str = "",
    plugin_config: Any = None,
    phase: str = "",
    priority: int | None = None,
    root_id: str = "",
    filter_types: tuple[str, ...] = (),
    platforms: tuple[str, ...] = (),
) -> InstallSnippets:
    """The pull command and one snippet per claimed platform for ``namespace/name:version``."""
    host = registry_host(base_url)
    reference = f"{host}/{namespace}/{name}:{version}"
    pin = manifest_pin(digest)
    pull_ref = f"{host}/{namespace}/{name}@{digest}" if pin else reference
    claimed = set(platforms) or UNCLAIMED_DEFAULT
    snippets: list[Snippet] = []
    if pin and _SHA256_HEX.match(module_sha256 or ""):
        fields = base_deployment(
            base_url=base_url, namespace=namespace, name=name, version=version,
            digest=f"sha256:{pin}", module_sha256=module_sha256, plugin_config=plugin_config,
            phase=phase, priority=priority, root_id=root_id, filter_types=filter_types)
        snippets = [_snippet(p, fields) for p in ORDER if p.compat_key in claimed]
    return InstallSnippets(
        oci_url=f"oci://{reference}",
        digest=digest if pin else None,
        pull_command=f"wasmhub pull {pull_ref}",
        platforms=tuple(snippets),
    )


def version_snippets(version: VersionDetail, base_url: str, plugin_config: Any
                     ) -> InstallSnippets:
    """The snippets for a version as the catalog describes it, with ``plugin_config``."""
    return install_snippets(
        base_url=base_url, namespace=version.namespace, name=version.name,
        version=version.version.tag, digest=version.version.digest,
        module_sha256=version.module_sha256, plugin_config=plugin_config,
        phase=version.phase, priority=version.priority, root_id=version.root_id,
        filter_types=version.filter_types, platforms=version.platforms,
    )
