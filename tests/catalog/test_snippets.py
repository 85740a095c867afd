"""Install snippets (wasmhub.catalog.snippets): each manifest parsed and checked field by field.

The pin: for ``oci://`` references Istio's ``sha256``, Higress's ``sha256`` and Envoy
Gateway's ``image.sha256`` are checked against the image *manifest* digest (the module
checksum only applies to http(s) module URLs), so every snippet must carry the manifest
digest of the real packed image, never its module layer's digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from tests.catalog.modules import proxy_module
from wasmhub.catalog.snippets import install_snippets, manifest_pin, registry_host
from wasmhub.catalog.types import InstallSnippets
from wasmhub.wasm import pack

HOST = "hub.example.com:5080"
CONFIG: dict[str, Any] = {
    "header": "x-tenant", "quote": "it's \"quoted\": yes", "nested": {"list": [1, 2.5, None]},
    "zh": "限流", "multi": "line one\nline two",
}


@pytest.fixture(scope="module")
def packed() -> tuple[str, set[str]]:
    """(manifest digest, what it must not be confused with) of a real compat image:
    the module's own sha256 and the digests of the image's layers."""
    image = pack(proxy_module())
    manifest_digest = "sha256:" + hashlib.sha256(image.manifest).hexdigest()
    module_sha256 = hashlib.sha256(proxy_module()).hexdigest()
    others = {module_sha256, *(layer.digest.removeprefix("sha256:") for layer in image.layers)}
    return manifest_digest, others


def snippets_for(digest: str | None, **extra: Any) -> InstallSnippets:
    args: dict[str, Any] = {
        "host": HOST, "namespace": "acme", "name": "auth/jwt", "version": "1.2.0",
        "digest": digest, "plugin_config": CONFIG, "phase": "authz", "priority": 5,
        "root_id": "jwt", "filter_types": ("http",), **extra,
    }
    return install_snippets(**args)


def test_istio_wasmplugin(packed: tuple[str, set[str]]) -> None:
    digest, not_the_pin = packed
    doc = yaml.safe_load(snippets_for(digest).istio_wasmplugin)
    assert doc["apiVersion"] == "extensions.istio.io/v1alpha1" and doc["kind"] == "WasmPlugin"
    assert doc["metadata"] == {"name": "auth-jwt", "namespace": "default"}
    spec = doc["spec"]
    assert spec["url"] == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    # Istio verifies an OCI image by its manifest digest, not the module's checksum.
    assert spec["sha256"] == digest.removeprefix("sha256:")
    assert spec["sha256"] not in not_the_pin
    assert (spec["phase"], spec["priority"], spec["pluginName"]) == ("AUTHZ", 5, "jwt")
    assert spec["pluginConfig"] == CONFIG
    assert spec["selector"] == {"matchLabels": {"app": "my-app"}}
    assert "type" not in spec  # HTTP is the default


def test_envoy_gateway_extension_policy(packed: tuple[str, set[str]]) -> None:
    digest, _ = packed
    doc = yaml.safe_load(snippets_for(digest).envoy_gateway_extension_policy)
    assert doc["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
    assert doc["kind"] == "EnvoyExtensionPolicy"
    assert doc["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "my-route"}
    ]
    [wasm] = doc["spec"]["wasm"]
    assert (wasm["name"], wasm["rootID"], wasm["config"]) == ("auth-jwt", "jwt", CONFIG)
    assert wasm["code"]["type"] == "Image"
    # image.url takes no scheme; image.sha256 "must match the digest of the OCI image".
    assert wasm["code"]["image"] == {
        "url": f"{HOST}/acme/auth/jwt:1.2.0", "sha256": digest.removeprefix("sha256:"),
    }
    assert "phase" not in wasm and "priority" not in wasm  # EG has neither


def test_higress_wasmplugin(packed: tuple[str, set[str]]) -> None:
    digest, _ = packed
    doc = yaml.safe_load(snippets_for(digest).higress_wasmplugin)
    assert doc["apiVersion"] == "extensions.higress.io/v1alpha1" and doc["kind"] == "WasmPlugin"
    assert doc["metadata"] == {"name": "auth-jwt", "namespace": "higress-system"}
    spec = doc["spec"]
    assert spec["url"] == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    assert spec["sha256"] == digest.removeprefix("sha256:")  # Istio's field, same meaning
    assert (spec["phase"], spec["priority"], spec["defaultConfig"]) == ("AUTHZ", 5, CONFIG)
    assert "selector" not in spec  # a Higress plugin applies to the gateway


def test_pull_command_and_order(packed: tuple[str, set[str]]) -> None:
    digest, _ = packed
    snippets = snippets_for(digest)
    assert snippets.pull_command == f"wasmhub pull {HOST}/acme/auth/jwt@{digest}"
    assert snippets.oci_url == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    assert snippets.digest == digest
    items = snippets.items
    assert [(s.key, s.title, s.language) for s in items] == [
        ("pull", "wasmhub pull", "shell"), ("istio", "Istio", "yaml"),
        ("envoy-gateway", "Envoy Gateway", "yaml"), ("higress", "Higress", "yaml"),
    ]
    assert [s.text for s in items] == [
        snippets.pull_command, snippets.istio_wasmplugin,
        snippets.envoy_gateway_extension_policy, snippets.higress_wasmplugin,
    ]


def test_unpinned_unknown_phase_network_filter() -> None:
    for digest in (None, "sha512:" + "ab" * 64, "sha256:tooshort"):
        snippets = snippets_for(digest, phase="weird", priority=None, root_id="",
                                filter_types=("network",), plugin_config=None)
        istio = yaml.safe_load(snippets.istio_wasmplugin)["spec"]
        assert "sha256" not in istio and "phase" not in istio and "priority" not in istio
        assert istio["type"] == "NETWORK" and istio["pluginConfig"] == {}
        assert "pluginName" not in istio
        eg = yaml.safe_load(snippets.envoy_gateway_extension_policy)["spec"]["wasm"][0]
        assert "sha256" not in eg["code"]["image"] and "rootID" not in eg
        assert "sha256" not in yaml.safe_load(snippets.higress_wasmplugin)["spec"]
    assert snippets_for(None).pull_command == f"wasmhub pull {HOST}/acme/auth/jwt:1.2.0"


def test_helpers() -> None:
    assert registry_host("http://127.0.0.1:5080/") == "127.0.0.1:5080"
    assert registry_host("https://hub.example.com") == "hub.example.com"
    assert registry_host("hub.example.com:443") == "hub.example.com:443"
    assert manifest_pin("sha256:" + "0f" * 32) == "0f" * 32
    assert manifest_pin("sha256:" + "0F" * 32) is None  # the CRDs' pattern is lowercase
    assert manifest_pin(None) is None
    odd = install_snippets(host="h", namespace="n", name="Weird_Name.v2/..", version="1",
                           digest=None)
    assert yaml.safe_load(odd.istio_wasmplugin)["metadata"]["name"] == "weird-name-v2"
