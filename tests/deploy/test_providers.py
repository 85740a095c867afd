"""Every provider over a matrix of specs: golden output, each validated against the real
schema (CRD OpenAPI v3 + CEL, or Envoy's protos via xds-protos, strict).

Regenerate the golden files after an intended change with
``WASMHUB_UPDATE_GOLDEN=1 pytest tests/deploy/test_providers.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wasmhub.deploy import PROVIDERS, render
from wasmhub.deploy.envoy import EnvoyProvider
from wasmhub.deploy.envoy_gateway import EnvoyGatewayProvider
from wasmhub.deploy.errors import SpecError, UnsupportedOnPlatform
from wasmhub.deploy.schemas import problems
from wasmhub.deploy.spec import Platform

from .cases import MATRIX, MODULE_HEX, deployment

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(("case", "platform", "fields"), MATRIX, ids=[m[0] for m in MATRIX])
def test_golden_and_valid(case: str, platform: str, fields: dict[str, Any]) -> None:
    rendering = render(deployment(platform, **fields))  # render() validates every resource
    for resource in rendering.resources:
        assert problems(resource) == []
    text = rendering.yaml()
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("WASMHUB_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with WASMHUB_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_matrix_covers_every_provider() -> None:
    assert {Platform(p) for _, p, _ in MATRIX} == set(PROVIDERS)


def test_every_kubernetes_resource_pins_the_digest() -> None:
    for _, platform, fields in MATRIX:
        rendering = render(deployment(platform, **fields))
        text = rendering.yaml()
        assert ("1" * 64 in text) or (MODULE_HEX in text), platform
        if platform in ("consul", "envoy"):  # no OCI: fetched from /modules/ by sha256
            assert f"/modules/sha256:{MODULE_HEX}.wasm" in text


def test_envoy_filter_sits_before_the_router() -> None:
    bootstrap = render(deployment("envoy")).resources[0].document
    chain = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]
    filters = chain[0]["typed_config"]["http_filters"]
    assert [f["name"] for f in filters] == ["add-header", "envoy.filters.http.router"]
    config = filters[0]["typed_config"]["config"]
    remote = config["vm_config"]["code"]["remote"]
    assert remote["sha256"] == MODULE_HEX
    assert remote["http_uri"]["cluster"] == "wasmhub"
    clusters = {c["name"] for c in bootstrap["static_resources"]["clusters"]}
    assert clusters == {"wasmhub", "upstream"}


def test_ordering_only_platforms_follow_phase_then_priority() -> None:
    names = {"authz-low": ("AUTHZ", 1), "authn": ("AUTHN", None), "stats": ("STATS", 5),
             "authz-high": ("AUTHZ", 900), "plain": ("UNSPECIFIED", 1000)}
    deployments = [deployment("envoy", name=n, phase=p, priority=pr)
                   for n, (p, pr) in names.items()]
    bootstrap = EnvoyProvider().render_bootstrap(deployments).resources[0].document
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    order = [f["name"] for f in hcm["typed_config"]["http_filters"]]
    assert order == ["authn", "authz-high", "authz-low", "stats", "plain",
                     "envoy.filters.http.router"]
    refs = {"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]}
    eg = EnvoyGatewayProvider().render_policy(
        [deployment("envoy-gateway", name=n, phase=p, priority=pr, targets=refs)
         for n, (p, pr) in names.items()])
    assert [w["name"] for w in eg.resources[0].document["spec"]["wasm"]] == order[:-1]


@pytest.mark.parametrize(("platform", "fields", "field"), [
    ("envoy-gateway", {}, "targets.targetRefs"),
    ("envoy-gateway", {"targets": {"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]},
                       "vmEnv": [{"name": "A", "value": "1"}]}, "vmEnv"),
    ("envoy-gateway", {"targets": {"selector": {"app": "x"}}}, "targets.selector"),
    ("higress", {"failStrategy": "reload"}, "failStrategy"),
    ("higress", {"pluginType": "network"}, "pluginType"),
    ("consul", {}, "targets.services"),
    ("consul", {"targets": {"services": ["web"]}, "codeSource": "oci"}, "codeSource"),
    ("consul", {"targets": {"services": ["web"]}, "pluginType": "network"}, "pluginType"),
    ("consul", {"targets": {"services": ["web"]}, "match": [{"mode": "CLIENT"}]}, "match"),
    ("envoy", {"targets": {"selector": {"app": "x"}}}, "targets.selector"),
    ("envoy", {"pullSecret": "s"}, "pullSecret"),
    ("gloo", {"vmEnv": [{"name": "A", "value": "1"}]}, "vmEnv"),
    ("gloo", {"failStrategy": "fail-open"}, "failStrategy"),
    ("istio", {"targets": {"domains": ["a.example"]}}, "targets.domains"),
    ("istio", {"config": ["not", "an", "object"]}, "config"),
])
def test_what_a_platform_cannot_express_is_refused_by_field(
    platform: str, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        render(deployment(platform, **fields))
    assert caught.value.field == field
    assert field in caught.value.message


def test_unresolved_plugin_is_refused() -> None:
    d = deployment("istio", plugin={"ref": "127.0.0.1:5080/library/add-header:0.1.0"})
    with pytest.raises(SpecError) as caught:
        render(d)
    assert caught.value.field == "plugin.digest"
    assert not isinstance(caught.value, UnsupportedOnPlatform)
