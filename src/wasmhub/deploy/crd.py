"""The ``PluginDeployment`` CRD (group ``wasmhub.io``), generated from the ``Deployment`` model.

The shipped file ``deploy/crds/wasmhub-plugindeployments.yaml`` is this function's output
(a test keeps them equal; regenerate with ``python -m wasmhub.deploy.crd``). The spec
schema is the pydantic model's JSON schema made *structural* as Kubernetes requires:
references inlined, ``X | None`` as ``nullable``, free-form config as
``x-kubernetes-preserve-unknown-fields``. ``updatePolicy: follow-tag`` asks the operator
to follow a moving tag; status carries the resolved digest and the conditions Ready,
Compatible, ConfigValid, Trusted (the namespace's signature policy) and Applied.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from wasmhub.deploy.spec import Deployment

GROUP = "wasmhub.io"
VERSION = "v1alpha1"
CRD_PATH = Path(__file__).parent / "crds" / "wasmhub-plugindeployments.yaml"
_DROP = {"title", "$defs"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _structural(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        merged = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            out = _structural({**options[0], **merged}, defs)
            out["nullable"] = True
            return out
    # Kubernetes forbids additionalProperties beside properties; it prunes or rejects
    # unknown fields by itself, so pydantic's ``extra="forbid"`` marker goes.
    out = {k: _structural(v, defs) for k, v in node.items()
           if k not in _DROP and not (k == "additionalProperties" and isinstance(v, bool))}
    if not any(k in out for k in ("type", "anyOf", "x-kubernetes-preserve-unknown-fields")):
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("default") is None:
        out.pop("default", None)
    return out


def spec_schema() -> dict[str, Any]:
    raw = Deployment.model_json_schema(by_alias=True)
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    schema["properties"] = {k: v for k, v in schema["properties"].items()
                            if k not in ("name", "namespace")}
    schema["required"] = [r for r in schema.get("required", []) if r not in ("name",)]
    return schema


def _status_schema() -> dict[str, Any]:
    condition = {
        "type": "object", "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "enum": ["Ready", "Compatible", "ConfigValid", "Trusted",
                                                "Applied"]},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"}, "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer"},
        },
    }
    return {"type": "object", "properties": {
        "observedGeneration": {"type": "integer"},
        "resolvedDigest": {"type": "string"},
        "moduleSha256": {"type": "string"},
        "resources": {"type": "array", "items": {"type": "string"}},
        "conditions": {"type": "array", "items": condition},
    }}


def plugin_deployment_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"plugindeployments.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": "PluginDeployment", "listKind": "PluginDeploymentList",
                      "plural": "plugindeployments", "singular": "plugindeployment",
                      "shortNames": ["pd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Platform", "type": "string", "jsonPath": ".spec.platform"},
                    {"name": "Plugin", "type": "string", "jsonPath": ".spec.plugin.ref"},
                    {"name": "Digest", "type": "string", "jsonPath": ".status.resolvedDigest"},
                    {"name": "Ready", "type": "string",
                     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object", "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema(), "status": _status_schema(),
                    },
                }},
            }],
        },
    }


def render_crd() -> str:
    header = ("# Generated by `python -m wasmhub.deploy.crd` from wasmhub.deploy.spec; "
              "do not edit.\n")
    return header + "---\n" + yaml.safe_dump(plugin_deployment_crd(), sort_keys=False,
                                             width=100)


if __name__ == "__main__":  # pragma: no cover - developer tool
    CRD_PATH.write_text(render_crd(), encoding="utf-8")
    sys.stdout.write(f"wrote {CRD_PATH}\n")
