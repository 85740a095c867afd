"""The Deployment spec: bad input is a SpecError naming the field; the YAML form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wasmhub.deploy.errors import SpecError
from wasmhub.deploy.spec import load_deployment, parse_deployment, to_document

from .cases import deployment, plugin


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"priority": 0}, "priority", "greater than or equal to 1"),
    ({"priority": 1001}, "priority", "less than or equal to 1000"),
    ({"phase": "EARLY"}, "phase", "AUTHN"),
    ({"targets": {"selector": {"app": "x"},
                  "targetRefs": [{"kind": "Gateway", "name": "g"}]}},
     "targets", "mutually exclusive"),
    ({"vmEnv": [{"name": "A", "value": "1", "fromHost": True}]}, "vmEnv[0]", "no inline"),
    ({"vmEnv": [{"name": "A"}]}, "vmEnv[0]", "inline value"),
    ({"failStrategy": "maybe"}, "failStrategy", "fail-closed"),
    ({"match": [{"ports": [0]}]}, "match[0].ports", "1-65535"),
    ({"name": "Bad_Name"}, "name", "DNS label"),
    ({"pluginType": "udp"}, "pluginType", "http"),
    ({"plugin": {"ref": "x", "digest": "sha256:short"}}, "plugin.digest", "sha256:"),
    ({"surprise": 1}, "surprise", "Extra inputs"),
])
def test_bad_fields_are_named(fields: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        deployment("istio", **fields)
    assert caught.value.field == field
    assert words in caught.value.message


def test_yaml_round_trip(tmp_path: Path) -> None:
    original = deployment("istio", phase="AUTHZ", priority=20, namespace="shop",
                          targets={"selector": {"app": "web"}},
                          vmEnv=[{"name": "A", "value": "1"}])
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(to_document(original)))
    loaded = load_deployment(path)
    assert loaded == original
    assert yaml.safe_load(path.read_text())["kind"] == "PluginDeployment"


def test_bare_spec_and_wrong_kind(tmp_path: Path) -> None:
    bare = {"name": "x", "platform": "envoy", "plugin": plugin()}
    assert parse_deployment(bare).platform.value == "envoy"
    with pytest.raises(SpecError) as caught:
        parse_deployment({"apiVersion": "v1", "kind": "ConfigMap"})
    assert caught.value.field == "kind"
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_deployment(path)
