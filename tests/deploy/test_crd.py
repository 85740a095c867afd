"""The shipped PluginDeployment CRD is the generator's output and accepts our documents."""

from __future__ import annotations

import copy

from wasmhub.deploy.crd import CRD_PATH, render_crd
from wasmhub.deploy.schemas import crd_problems
from wasmhub.deploy.spec import to_document

from .cases import ENV, deployment


def test_shipped_crd_is_generated() -> None:
    assert CRD_PATH.read_text(encoding="utf-8") == render_crd(), (
        "regenerate with: python -m wasmhub.deploy.crd")


def test_plugin_deployment_documents_validate() -> None:
    doc = to_document(deployment("istio", phase="AUTHN", priority=5, vmEnv=ENV,
                                 targets={"selector": {"app": "web"}},
                                 match=[{"mode": "SERVER", "ports": [80]}]))
    assert crd_problems(doc) == []
    bad = copy.deepcopy(doc)
    bad["spec"]["priority"] = 1001
    assert any("spec.priority" in p for p in crd_problems(bad))
    bad = copy.deepcopy(doc)
    bad["spec"]["phase"] = "EARLY"
    assert any("spec.phase" in p for p in crd_problems(bad))
