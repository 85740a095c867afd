"""Pre-apply checks on their own: private plugins, fail-closed warning, config paths."""

from __future__ import annotations

import pytest

from wasmhub.deploy.checks import preflight, require
from wasmhub.deploy.errors import CheckFailed
from wasmhub.deploy.resolve import ResolvedPlugin
from wasmhub.wasm.report import inspect_module

from .cases import deployment, plugin


def _resolved(module: bytes, private: bool = False) -> ResolvedPlugin:
    from wasmhub.deploy.spec import PluginRef

    ref = PluginRef.model_validate({**plugin(), "private": private})
    schema = {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1},
                                               "tags": {"type": "array",
                                                        "items": {"type": "string"}}}}
    return ResolvedPlugin(ref=ref, config_schema=schema, example_config={}, root_id="",
                          phase="", priority=None, filter_types=("http",),
                          report=inspect_module(module))


def test_private_plugin_needs_a_pull_secret(add_header_module: bytes) -> None:
    resolved = _resolved(add_header_module, private=True)
    d = deployment("istio", plugin=resolved.ref.model_dump(by_alias=True), config={})
    with pytest.raises(CheckFailed, match="pullSecret: the plugin is private"):
        require(preflight(d, resolved))
    ok = deployment("istio", plugin=resolved.ref.model_dump(by_alias=True), config={},
                    pullSecret="hub-pull")
    assert require(preflight(ok, resolved)).errors == []
    # Fetched by URL (no OCI pull), no secret is involved.
    http = deployment("envoy", plugin=resolved.ref.model_dump(by_alias=True), config={})
    assert require(preflight(http, resolved)).errors == []


def test_config_violations_name_their_path_and_fail_closed_warns(
    add_header_module: bytes
) -> None:
    resolved = _resolved(add_header_module)
    d = deployment("istio", config={"limit": 0, "tags": ["a", 5]})
    report = preflight(d, resolved)
    assert "config.limit: 0 is less than the minimum of 1" in report.errors
    assert "config.tags[1]: 5 is not of type 'string'" in report.errors
    assert any(w.startswith("failStrategy: fail-closed") for w in report.warnings)
    open_d = deployment("istio", config={}, failStrategy="fail-open")
    assert not any("fail-closed" in w for w in preflight(open_d, resolved).warnings)
    assert report.verdict is not None and report.verdict.status == "compatible"
