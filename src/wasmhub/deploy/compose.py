"""A complete Deployment from what the user gave plus what the hub knows about the plugin.

Shared by ``wasmhub deploy`` and the operator, so both fill the same defaults: the
resolved (pinned) plugin, and — unless the user set them — the plugin's own resource name,
example config, phase, priority, root id and filter type, and the provider's namespace.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from wasmhub.catalog.snippets import base_deployment
from wasmhub.deploy import provider_for
from wasmhub.deploy.resolve import ResolvedPlugin
from wasmhub.deploy.spec import Deployment, parse_deployment

DEFAULTED = ("name", "config", "phase", "priority", "rootId", "pluginType")


def complete(draft: Deployment, resolved: ResolvedPlugin, given: Collection[str]) -> Deployment:
    """``draft`` pinned to ``resolved``; fields not in ``given`` (camelCase) take defaults."""
    ref = resolved.ref
    namespace, _, name = ref.repository.partition("/")
    defaults = base_deployment(
        base_url=ref.hub_url, namespace=namespace, name=name, version=ref.tag or "",
        digest=ref.digest or "", module_sha256=ref.module_sha256 or "",
        plugin_config=resolved.example_config, phase=resolved.phase,
        priority=resolved.priority, root_id=resolved.root_id,
        filter_types=resolved.filter_types)
    data: dict[str, Any] = draft.model_dump(by_alias=True, exclude_none=True)
    data["plugin"] = ref.model_dump(by_alias=True)
    for key in DEFAULTED:
        if key not in given and defaults.get(key) is not None:
            data[key] = defaults[key]
    if "namespace" not in given:
        data["namespace"] = getattr(provider_for(draft.platform), "default_namespace",
                                    "default")
    return parse_deployment(data)
