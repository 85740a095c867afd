"""plugin.yaml is untrusted: alias bombs, deep nesting and oversized fields are refused
at parse time with a PluginYamlError naming the problem (issue 8 finding 3)."""

from __future__ import annotations

import pytest

from tests.support.hostile_images import alias_bomb
from wasmhub.wasm.errors import PluginYamlError
from wasmhub.wasm.plugin_yaml import (
    MAX_CONFIG_JSON_BYTES,
    MAX_DESCRIPTION_CHARS,
    MAX_PLUGIN_YAML_BYTES,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    load_plugin_yaml,
)

BASE = """apiVersion: wasmhub.dev/v1
kind: Plugin
metadata:
  name: fine
  version: 1.0.0
  displayName: {{en: {title}}}
  description: {{en: {description}}}
  homepage: {homepage}
spec:
  configSchema: {{type: object}}
  exampleConfig: {{header: x}}
"""


def doc(title: str = "Fine", description: str = "Fine", homepage: str = "https://e.com/") -> str:
    return BASE.format(title=title, description=description, homepage=homepage)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    text = alias_bomb(levels=6)  # ~550 bytes; 531441 strings once expanded
    assert len(text) < 1024
    with pytest.raises(PluginYamlError, match="through YAML aliases"):
        load_plugin_yaml(text)
    with pytest.raises(PluginYamlError, match="through YAML aliases"):
        load_plugin_yaml(alias_bomb(levels=12))  # ~2.8e11 strings: refused as quickly


def test_a_smaller_bomb_still_hits_the_stored_field_cap() -> None:
    # 5 levels stays inside the alias budget, but its exampleConfig is ~350 KB of JSON.
    with pytest.raises(PluginYamlError) as caught:
        load_plugin_yaml(alias_bomb(levels=5))
    assert caught.value.path == "spec.exampleConfig"
    assert f"the limit is {MAX_CONFIG_JSON_BYTES}" in caught.value.problem


def test_ordinary_aliases_still_work() -> None:
    text = doc().replace("  exampleConfig: {header: x}",
                         "  exampleConfig:\n    a: &shared {header: x}\n    b: *shared")
    meta = load_plugin_yaml(text)
    assert meta.spec.example_config == {"a": {"header": "x"}, "b": {"header": "x"}}


@pytest.mark.parametrize(("text", "problem"), [
    ("a: &a [*a]\n", "refers to itself"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nests deeper"),
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
    ("# padding\n" * (MAX_PLUGIN_YAML_BYTES // 10 + 1), "larger than"),
])
def test_hostile_structure_is_refused(text: str, problem: str) -> None:
    with pytest.raises(PluginYamlError, match=problem):
        load_plugin_yaml(text)


@pytest.mark.parametrize(("text", "path"), [
    (doc(title="T" * (MAX_TITLE_CHARS + 1)), "metadata.displayName"),
    (doc(description="D" * (MAX_DESCRIPTION_CHARS + 1)), "metadata.description.en"),
    (doc(homepage="https://e.com/" + "p" * MAX_URL_CHARS), "metadata.homepage"),
])
def test_every_stored_field_has_a_length_limit(text: str, path: str) -> None:
    with pytest.raises(PluginYamlError) as caught:
        load_plugin_yaml(text)
    assert caught.value.path == path
    assert "at most" in caught.value.problem
