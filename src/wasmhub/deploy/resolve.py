"""Plugin reference → immutable digest, plus what the checks need, from a running hub.

``resolve("127.0.0.1:5080/library/add-header:0.1.0")`` asks the hub's catalog API for
the version (manifest digest, module sha256, config schema, root id, phase, priority,
filter types), fetches the raw module from ``/modules/`` (verified against its sha256)
and inspects it, so the compatibility check looks at the very bytes a proxy will run.
A digest reference (``...@sha256:...``) is matched to its version; no tag or digest means
the plugin's latest version.

:func:`ensure_unmoved` re-reads the tag right before apply: a tag that moved since it was
resolved raises :class:`~wasmhub.deploy.errors.TagMoved` and nothing is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wasmhub.client.hub import HubClient, normalize_hub_url
from wasmhub.deploy.errors import SpecError, TagMoved
from wasmhub.deploy.spec import PluginRef
from wasmhub.errors import NotFoundError
from wasmhub.oci.reference import Reference, is_loopback_host
from wasmhub.wasm.report import ModuleReport, inspect_module


@dataclass(frozen=True)
class ResolvedPlugin:
    ref: PluginRef
    config_schema: dict[str, Any] | None
    example_config: Any
    root_id: str
    phase: str
    priority: int | None
    filter_types: tuple[str, ...]
    report: ModuleReport | None  # None when the module was not fetched


def hub_url_for(registry: str, explicit: str | None = None) -> str:
    if explicit:
        return normalize_hub_url(explicit)
    scheme = "http" if is_loopback_host(registry) else "https"
    return f"{scheme}://{registry}"


def _split(reference: Reference) -> tuple[str, str]:
    namespace, _, name = reference.repository.partition("/")
    if not name:
        raise SpecError("plugin.ref", f"{reference.repository!r}: expected namespace/name")
    return namespace, name


def resolve(text: str, *, hub_url: str | None = None, fetch_module: bool = True,
            client: HubClient | None = None) -> ResolvedPlugin:
    reference = Reference.parse(text)
    namespace, name = _split(reference)
    base = hub_url_for(reference.registry, hub_url)
    own = client is None
    hub = client or HubClient(base)
    try:
        tag = reference.tag
        if reference.digest:
            plugin = hub.plugin(namespace, name)
            match = [v for v in plugin.get("versions", []) if v.get("digest") == reference.digest]
            if not match:
                raise NotFoundError(f"plugin.ref: {reference.repository} has no version with "
                                    f"digest {reference.digest}")
            tag = match[0]["tag"]
        elif not tag:
            tag = hub.plugin(namespace, name).get("latest_version")
            if not tag:
                raise NotFoundError(f"plugin.ref: {reference.repository} has no versions")
        detail = hub.version(namespace, name, str(tag))
        version = detail.get("version") or {}
        module_hex = str(detail.get("module_sha256") or "")
        report = inspect_module(hub.module(module_hex)) if fetch_module and module_hex \
            else None
    finally:
        if own:
            hub.close()
    ref = PluginRef(
        ref=text, registry=reference.registry, repository=reference.repository,
        tag=None if reference.digest else str(tag), digest=version.get("digest"),
        module_sha256=module_hex or None, hub_url=base,
        private=detail.get("visibility") == "private",
    )
    return ResolvedPlugin(
        ref=ref, config_schema=detail.get("config_schema"),
        example_config=detail.get("example_config"), root_id=str(detail.get("root_id") or ""),
        phase=str(detail.get("phase") or ""), priority=detail.get("priority"),
        filter_types=tuple(detail.get("filter_types") or ()), report=report,
    )


def ensure_unmoved(plugin: PluginRef, client: HubClient | None = None) -> None:
    """Raise TagMoved when ``plugin``'s tag now names another digest than resolved."""
    if not plugin.tag:
        return  # pinned by digest: nothing can move
    namespace, _, name = plugin.repository.partition("/")
    own = client is None
    hub = client or HubClient(plugin.hub_url)
    try:
        now = (hub.version(namespace, name, plugin.tag).get("version") or {}).get("digest")
    finally:
        if own:
            hub.close()
    if now != plugin.digest:
        raise TagMoved(f"{plugin.registry}/{plugin.repository}:{plugin.tag}",
                       str(plugin.digest), str(now))
