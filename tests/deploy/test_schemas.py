"""The validators have teeth: rendered resources broken in ways each platform's published
schema forbids are rejected, naming the place (CRD OpenAPI v3 + CEL; Envoy protos)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasmhub.deploy import render
from wasmhub.deploy.errors import SchemaViolation
from wasmhub.deploy.provider import RenderedResource
from wasmhub.deploy.schemas import crd_problems, problems, unchecked_rules, validate

from .cases import MATRIX, deployment

Doc = dict[str, Any]


def _spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]
    return spec


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        node = doc
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[keys[-1]] = value
    return apply


NEGATIVE: list[tuple[str, str, dict[str, Any], Callable[[Doc], None], str]] = [
    ("istio priority not int", "istio", {}, _set("spec.priority", "high"), "spec.priority"),
    ("istio unknown field", "istio", {}, _set("spec.rootID", "x"), "rootID"),
    ("istio bad phase", "istio", {}, _set("spec.phase", "EARLY"), "spec.phase"),
    ("istio selector and targetRefs", "istio", {"targets": {"selector": {"a": "b"}}},
     _set("spec.targetRefs", [{"kind": "Gateway", "name": "g"}]), "violates rule"),
    ("istio host env with value", "istio", {"vmEnv": [{"name": "A", "fromHost": True}]},
     _set("spec.vmConfig.env.0.value", "x"), "spec.vmConfig.env[0]"),
    ("istio bad sha256", "istio", {}, _set("spec.sha256", "abc"), "spec.sha256"),
    ("istio wildcard label", "istio", {"targets": {"selector": {"a": "b"}}},
     _set("spec.selector.matchLabels", {"a*": "b"}), "matchLabels"),
    ("trafficextension no wasm", "istio-trafficextension", {},
     lambda d: _spec(d).pop("wasm"), "violates rule"),
    ("eg code type mismatch", "envoy-gateway",
     {"targets": {"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]}},
     _set("spec.wasm.0.code.type", "HTTP"), "spec.wasm[0].code"),
    ("eg target kind", "envoy-gateway",
     {"targets": {"targetRefs": [{"kind": "Service", "name": "r"}]}},
     lambda d: None, "violates rule"),
    ("eg no target", "envoy-gateway",
     {"targets": {"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]}},
     lambda d: _spec(d).pop("targetRefs"), "violates rule"),
    ("higress reload", "higress", {}, _set("spec.failStrategy", "FAIL_RELOAD"),
     "spec.failStrategy"),
    ("higress rule key", "higress", {"targets": {"domains": ["a.example"]}},
     _set("spec.matchRules.0.domains", ["a"]), "domains"),
]


@pytest.mark.parametrize(("case", "platform", "fields", "breaks", "where"), NEGATIVE,
                         ids=[n[0] for n in NEGATIVE])
def test_crd_schema_rejects(case: str, platform: str, fields: dict[str, Any],
                            breaks: Callable[[Doc], None], where: str) -> None:
    from wasmhub.deploy import provider_for

    resource = provider_for(platform).render(deployment(platform, **fields)).resources[0]
    doc = copy.deepcopy(resource.document)
    breaks(doc)
    found = crd_problems(doc)
    assert found, case
    assert any(where in p for p in found), found
    with pytest.raises(SchemaViolation) as caught:
        validate(RenderedResource(doc, resource.schema, resource.filename))
    assert where in caught.value.message


def test_envoy_protos_reject_unknown_and_mistyped_fields() -> None:
    bootstrap = render(deployment("envoy")).resources[0]
    for mutate, expected in [
        (_set("static_resources.listeners.0.address.socket_address.port_value", "ten"),
         "port_value"),
        (_set("static_resources.listeners.0.filter_chains.0.filters.0.typed_config"
              ".http_filters.0.typed_config.config.vm_config.code.remote.sha_256", "x"),
         "sha_256"),
        (_set("static_resources.listeners.0.filter_chains.0.filters.0.typed_config"
              ".http_filters.0.typed_config.@type", "type.googleapis.com/no.Such"), "no.Such"),
        (_set("static_resources.listeners.0.filter_chains.0.filters.0.typed_config"
              ".http_filters.0.typed_config.config.failure_policy", "SOMETIMES"), "SOMETIMES"),
    ]:
        doc = copy.deepcopy(bootstrap.document)
        mutate(doc)
        found = problems(RenderedResource(doc, bootstrap.schema, bootstrap.filename))
        assert found and expected in found[0], found


def test_consul_arguments_are_checked_as_envoy_gets_them() -> None:
    resource = render(deployment("consul", targets={"services": ["web"]})).resources[0]
    doc = copy.deepcopy(resource.document)
    doc["spec"]["envoyExtensions"][0]["arguments"]["pluginConfig"]["vmConfig"]["runtime"] = 7
    assert problems(RenderedResource(doc, resource.schema, resource.filename))
    doc = copy.deepcopy(resource.document)
    doc["spec"]["envoyExtensions"][0]["arguments"]["pluginConfig"]["vmConfig"]["cde"] = {}
    found = problems(RenderedResource(doc, resource.schema, resource.filename))
    assert found and "cde" in found[0]


def test_rules_we_cannot_evaluate_are_listed_not_hidden() -> None:
    doc = render(deployment("istio")).resources[0].document
    assert any("isURL" in rule for rule in unchecked_rules(doc))


ENVOY = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "envoy"


@pytest.mark.skipif(not ENVOY.exists() and not shutil.which("envoy"), reason="no envoy")
@pytest.mark.parametrize("case", [m for m in MATRIX if m[1] == "envoy"], ids=lambda m: m[0])
def test_real_envoy_accepts_the_bootstrap(case: tuple[str, str, dict[str, Any]],
                                          tmp_path: Path) -> None:
    """``envoy --mode validate`` runs Envoy's own config checks (PGV rules included)."""
    _, platform, fields = case
    path = tmp_path / "bootstrap.yaml"
    path.write_text(render(deployment(platform, **fields)).resources[0].yaml())
    envoy = str(ENVOY) if ENVOY.exists() else "envoy"
    done = subprocess.run([envoy, "--mode", "validate", "-c", str(path), "-l", "error"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout
