"""The sample plugins in examples/: they build from source into proxy-wasm modules with the
callbacks and host calls their features need, and their plugin.yaml and tests.yaml agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import wasmtime
import yaml

from tests.examples.conftest import EXAMPLES, SAMPLES
from wasmhub.build import BuildResult
from wasmhub.wasm.plugin_yaml import load_plugin_yaml

pytestmark = pytest.mark.slow

HTTP_BASE = {"proxy_on_context_create", "proxy_on_configure", "proxy_on_request_headers"}

# What each sample must export (callbacks) and import (host calls) for its features.
EXPECTED: dict[str, dict[str, Any]] = {
    "add-header": {
        "abi": "0.2.0",
        "callbacks": HTTP_BASE | {"proxy_on_response_headers"},
        "imports": {"proxy_replace_header_map_value", "proxy_remove_header_map_value",
                    "proxy_get_buffer_bytes"},
    },
    "auth-tenant": {
        "abi": "0.2.0",
        "callbacks": HTTP_BASE,
        "imports": {"proxy_send_local_response", "proxy_get_header_map_value",
                    "proxy_define_metric", "proxy_increment_metric"},
    },
    "rate-limit": {
        "abi": "0.2.0",
        "callbacks": HTTP_BASE | {"proxy_on_tick", "proxy_on_response_headers"},
        "imports": {"proxy_get_shared_data", "proxy_set_shared_data",
                    "proxy_set_tick_period_milliseconds", "proxy_get_current_time_nanoseconds",
                    "proxy_send_local_response"},
    },
    "data-mask": {
        "abi": "0.2.0",
        "callbacks": HTTP_BASE | {"proxy_on_response_headers", "proxy_on_response_body"},
        "imports": {"proxy_get_buffer_bytes", "proxy_set_buffer_bytes"},
    },
    "c-add-header": {
        "abi": "0.2.1",
        "callbacks": HTTP_BASE | {"proxy_on_response_headers", "proxy_on_memory_allocate"},
        "imports": {"proxy_add_header_map_value", "proxy_remove_header_map_value",
                    "proxy_get_buffer_bytes"},
    },
}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_builds_to_a_proxy_wasm_module(
    built_examples: dict[str, BuildResult], name: str
) -> None:
    result = built_examples[name]
    report = result.report
    expected = EXPECTED[name]
    assert report.is_proxy_wasm
    assert report.abi_version == expected["abi"]
    assert report.filter_types == {"http"}
    assert expected["callbacks"] <= set(report.callbacks)

    data = result.output.read_bytes()
    module = wasmtime.Module(wasmtime.Engine(), data)  # wasmtime validates and compiles it
    exports = {e.name for e in module.exports}
    assert f"proxy_abi_version_{expected['abi'].replace('.', '_')}" in exports
    assert "memory" in exports
    env_imports = {i.name for i in module.imports if i.module == "env"}
    assert expected["imports"] <= env_imports
    assert not report.unknown_imports


def test_assemblyscript_samples_use_the_pinned_sdk(built_examples: dict[str, BuildResult]) -> None:
    for name in ("add-header", "auth-tenant", "rate-limit", "data-mask"):
        report = built_examples[name].report
        assert report.wasi == "wasi_unstable"  # proc_exit, from --use abort=abort_proc_exit
        assert "wasi_unstable.proc_exit" in report.wasi_functions
    c_report = built_examples["c-add-header"].report
    assert "_initialize" in c_report.entrypoints  # WASI reactor


@pytest.mark.parametrize("name", SAMPLES)
def test_plugin_yaml_is_valid_and_matches_the_sample(name: str) -> None:
    meta = load_plugin_yaml((EXAMPLES / name / "plugin.yaml").read_bytes())
    assert meta.name == name
    assert meta.metadata.display_name.zh and meta.metadata.description.zh
    assert meta.spec.config_schema is not None
    tests = _yaml(EXAMPLES / name / "tests.yaml")
    assert tests.get("root_id", "") == meta.spec.root_id
    # The configuration the tests use is one the schema accepts.
    jsonschema.validate(tests["plugin_config"], meta.spec.config_schema)
    assert (EXAMPLES / name / "README.md").is_file()


@pytest.mark.parametrize("name", SAMPLES)
def test_tests_yaml_follows_the_runner_format(name: str) -> None:
    tests = _yaml(EXAMPLES / name / "tests.yaml")
    assert tests["module"] == "build/plugin.wasm"
    assert tests["plugin_config"], "the AssemblyScript SDK needs a non-empty configuration"
    allowed_case = {"name", "advance_ms", "repeat", "request", "upstream", "http_calls", "expect"}
    allowed_expect = {
        "status", "headers", "headers_absent", "body", "body_contains", "body_matches",
        "upstream_headers", "upstream_headers_absent", "upstream_body", "reached_upstream",
        "logs_contain", "metrics",
    }
    names = [case["name"] for case in tests["cases"]]
    assert len(names) == len(set(names)) >= 2
    for case in tests["cases"]:
        assert set(case) <= allowed_case, case["name"]
        assert set(case["expect"]) <= allowed_expect, case["name"]
        for section in ("request", "upstream"):
            headers = case.get(section, {}).get("headers", {})
            assert all(isinstance(v, str) for v in headers.values()), case["name"]
