"""Deployment specs the deploy tests share: a resolved plugin and a matrix per platform."""

from __future__ import annotations

from typing import Any

from wasmhub.deploy.spec import Deployment, parse_deployment

MANIFEST_HEX = "1" * 64
MODULE_HEX = "2" * 64


def plugin(hub_url: str = "http://127.0.0.1:5080", *, tag: str | None = "0.1.0",
           module_hex: str = MODULE_HEX, manifest_hex: str = MANIFEST_HEX) -> dict[str, Any]:
    host = hub_url.split("://", 1)[1].rstrip("/")
    ref = f"{host}/library/add-header" + (f":{tag}" if tag else f"@sha256:{manifest_hex}")
    return {"ref": ref, "registry": host, "repository": "library/add-header", "tag": tag,
            "digest": f"sha256:{manifest_hex}", "moduleSha256": module_hex, "hubUrl": hub_url}


def deployment(platform: str, **fields: Any) -> Deployment:
    data: dict[str, Any] = {"name": "add-header", "platform": platform, "plugin": plugin(),
                            "config": {"name": "x-hub", "value": "yes"}}
    data.update(fields)
    return parse_deployment(data)


ENV = [{"name": "TENANT", "value": "acme"}, {"name": "POD_NAME", "fromHost": True}]

# (case id, platform, extra fields): every field each platform can express, and the
# common minimal spec; the golden files under golden/ are these renderings.
MATRIX: list[tuple[str, str, dict[str, Any]]] = [
    ("istio-minimal", "istio", {}),
    ("istio-full", "istio", {
        "targets": {"selector": {"app": "reviews", "version": "v2"}}, "phase": "AUTHN",
        "priority": 1000, "vmEnv": ENV, "failStrategy": "reload", "pullPolicy": "Always",
        "pullSecret": "hub-pull", "match": [{"mode": "SERVER", "ports": [8080, 9090]}],
        "rootId": "add_header", "namespace": "shop"}),
    ("istio-http-source", "istio", {"codeSource": "http", "failStrategy": "fail-open",
                                    "targets": {"targetRefs": [{"kind": "Gateway",
                                                                "name": "ingress"}]}}),
    ("istio-network", "istio", {"pluginType": "network", "config": None, "phase": "STATS",
                                "priority": 1, "targets": {"services": ["ratings"]}}),
    ("trafficextension-full", "istio-trafficextension", {
        "targets": {"targetRefs": [{"kind": "Gateway", "name": "edge"}]}, "phase": "AUTHZ",
        "priority": 500, "vmEnv": ENV, "failStrategy": "fail-open",
        "match": [{"mode": "CLIENT"}], "rootId": "add_header", "pullSecret": "hub-pull"}),
    ("envoy-gateway-image", "envoy-gateway", {
        "targets": {"targetRefs": [{"kind": "HTTPRoute", "name": "store"}]},
        "pullSecret": "hub-pull", "pullPolicy": "IfNotPresent", "rootId": "add_header",
        "vmEnv": [{"name": "POD_NAME", "fromHost": True}], "phase": "AUTHN", "priority": 7}),
    ("envoy-gateway-http", "envoy-gateway", {
        "codeSource": "http", "failStrategy": "fail-open",
        "targets": {"targetRefs": [{"kind": "Gateway", "name": "eg"}]}}),
    ("higress-global", "higress", {"namespace": "higress-system", "phase": "AUTHN",
                                   "priority": 100, "vmEnv": ENV}),
    ("higress-rules", "higress", {
        "namespace": "higress-system", "failStrategy": "fail-open", "pullSecret": "hub-pull",
        "targets": {"ingresses": ["shop/store"], "domains": ["*.example.com"],
                    "services": ["ratings.default.svc.cluster.local"]}}),
    ("consul-service", "consul", {"targets": {"services": ["web", "api"]}, "vmEnv": ENV,
                                  "rootId": "add_header", "failStrategy": "fail-open"}),
    ("envoy-http", "envoy", {"phase": "AUTHN", "vmEnv": ENV, "failStrategy": "reload",
                             "rootId": "add_header"}),
    ("envoy-network", "envoy", {"pluginType": "network", "config": None}),
    ("gloo-gateway", "gloo", {"namespace": "gloo-system", "phase": "AUTHZ",
                              "rootId": "add_header"}),
]
