"""load_plugin_yaml: the full example loads; every kind of mistake names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wasmhub.errors import InputError
from wasmhub.wasm import Category, Phase, PluginYamlError, Target, load_plugin_yaml

EXAMPLE = (Path(__file__).parent / "fixtures" / "plugin.yaml").read_text()


def _doc() -> dict[str, Any]:
    doc = yaml.safe_load(EXAMPLE)
    assert isinstance(doc, dict)
    return doc


def _error(doc: Any) -> PluginYamlError:
    text = doc if isinstance(doc, str | bytes) else yaml.safe_dump(doc, allow_unicode=True)
    with pytest.raises(PluginYamlError) as info:
        load_plugin_yaml(text)
    assert isinstance(info.value, InputError)
    return info.value


def test_full_example_loads() -> None:
    meta = load_plugin_yaml(EXAMPLE)
    assert meta.name == "add-header"
    assert meta.version == "1.2.0"
    assert meta.metadata.display_name.get("zh") == "添加请求头"
    assert meta.metadata.category is Category.TRANSFORMATION
    assert meta.spec.phase is Phase.AUTHN
    assert meta.spec.priority == 100
    assert meta.spec.root_id == "add_header"
    assert Target.ENVOY_GATEWAY in meta.spec.targets
    assert meta.spec.example_config == {"header": "x-hello", "value": "world"}
    assert meta.to_json()["metadata"]["displayName"]["en"] == "Add header"
    notes = meta.oci_annotations()
    assert notes["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert notes["org.opencontainers.image.authors"] == "Ada Lovelace <ada@example.com>"


def test_bytes_input_and_minimal_document() -> None:
    minimal = (
        "apiVersion: wasmhub.dev/v1\nkind: Plugin\nmetadata:\n  name: tiny\n"
        "  version: 0.1.0\n  displayName: {en: Tiny}\n  description: {en: Does little.}\n"
    )
    meta = load_plugin_yaml(minimal.encode())
    assert meta.metadata.display_name.get("zh") == "Tiny"  # falls back to English
    assert meta.spec.phase is Phase.UNSPECIFIED_PHASE
    assert meta.metadata.category is Category.OTHER


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = _doc()
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.priority", 0, "spec.priority: must be between 1 and 1000"),
        ("spec.priority", 1001, "spec.priority: must be between 1 and 1000"),
        ("spec.priority", "high", "spec.priority: must be an integer"),
        ("spec.phase", "LATE", "spec.phase: must be one of 'AUTHN', 'AUTHZ', 'STATS'"),
        ("metadata.name", "Add Header", "metadata.name: must be 2-64 characters"),
        ("metadata.name", "-x", "metadata.name: must be 2-64"),
        ("metadata.version", "1.2", "metadata.version: must be a semantic version"),
        ("metadata.version", "1.2.0+build5", "metadata.version: must be a semantic version"),
        ("metadata.version", 1.2, "metadata.version: must be a string"),
        ("metadata.category", "fun", "metadata.category: must be one of 'auth'"),
        ("metadata.license", "Apache 2", "metadata.license: must be an SPDX"),
        ("metadata.homepage", "ftp://x.org", "metadata.homepage: must be an http(s) URL"),
        ("metadata.keywords", ["Bad Keyword"], "metadata.keywords: keyword 'Bad Keyword'"),
        ("metadata.displayName", _DELETE, "metadata.displayName: is required"),
        ("metadata.description", {"zh": "只有中文"}, "metadata.description.en: is required"),
        ("metadata.displayName", {"en": ""}, "metadata.displayName.en: must not be empty"),
        (
            "metadata.maintainers",
            [{"name": "A", "email": "nope"}],
            "metadata.maintainers[0].email: must be an e-mail address",
        ),
        ("spec.targets", ["istio", "nginx"], "spec.targets[1]: must be one of 'istio'"),
        ("spec.targets", ["istio", "istio"], "spec.targets: lists a target twice"),
        ("spec.color", "red", "spec.color: is not a known field"),
        ("kind", "Filter", "kind: must be one of 'Plugin'"),
        ("apiVersion", "v2", "apiVersion: must be one of 'wasmhub.dev/v1'"),
        ("spec.exampleConfig", {"header": 5}, "spec.exampleConfig.header: does not match"),
        ("spec.exampleConfig", {"value": "x"}, "spec.exampleConfig: does not match"),
        ("spec.exampleConfig", _DELETE, "spec.exampleConfig: is required when configSchema"),
        ("spec.configSchema", {"type": "objekt"}, "spec.configSchema.type: is not a valid"),
        (
            "spec.configSchema",
            {"type": "object", "required": "header"},
            "spec.configSchema.required: is not a valid JSON Schema",
        ),
    ],
)
def test_field_errors(path: str, value: Any, expected: str) -> None:
    err = _error(_with(path, value))
    assert err.message.startswith(expected), err.message


def test_network_filter_target_check() -> None:
    doc = _with("spec.filterType", "network")
    err = _error(doc)
    assert err.path == "spec.targets"
    assert "envoy-gateway, higress" in err.problem


def test_example_without_schema() -> None:
    doc = _with("spec.configSchema", _DELETE)
    assert _error(doc).message == "spec.exampleConfig: needs spec.configSchema to check it"


def test_several_problems_are_all_listed() -> None:
    doc = _with("spec.priority", 5000)
    doc["metadata"]["version"] = "x"
    err = _error(doc)
    assert "and 1 more problem" in err.message
    assert isinstance(err.detail, list)
    assert {d["path"] for d in err.detail} == {"metadata.version", "spec.priority"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1, 2", "plugin.yaml is not valid YAML at line"),
        ("- just\n- a list\n", "plugin.yaml must be a mapping"),
        (b"\xff\xfe", "plugin.yaml is not UTF-8"),
        ("", "plugin.yaml must be a mapping"),
    ],
)
def test_document_level_errors(text: str | bytes, expected: str) -> None:
    err = _error(text)
    assert err.path == ""
    assert err.message.startswith(expected)
