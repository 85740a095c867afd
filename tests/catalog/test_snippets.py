"""Install snippets (wasmhub.catalog.snippets), rendered by the deploy providers: each
manifest parsed and checked field by field, and validated against its platform's schema.

The pin: for ``oci://`` references Istio's ``sha256``, Higress's ``sha256`` and Envoy
Gateway's ``image.sha256`` are checked against the image *manifest* digest, so those
snippets carry the manifest digest of the real packed image, never its module layer's
digest. Consul and Envoy fetch the raw module from ``/modules/`` and carry the module's
own sha256.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from tests.catalog.modules import proxy_module
from wasmhub.catalog.snippets import install_snippets, manifest_pin, registry_host
from wasmhub.catalog.types import InstallSnippets
from wasmhub.deploy.provider import RenderedResource, SchemaRef
from wasmhub.deploy.schemas import problems
from wasmhub.wasm import pack

BASE = "http://hub.example.com:5080"
HOST = "hub.example.com:5080"
CONFIG: dict[str, Any] = {
    "header": "x-tenant", "quote": "it's \"quoted\": yes", "nested": {"list": [1, 2.5, None]},
    "zh": "限流", "multi": "line one\nline two",
}
ALL = ("istio", "envoy-gateway", "higress", "consul", "envoy", "gloo")


@pytest.fixture(scope="module")
def packed() -> tuple[str, str, set[str]]:
    """(manifest digest, module sha256, layer digests) of a real compat image."""
    image = pack(proxy_module())
    manifest_digest = "sha256:" + hashlib.sha256(image.manifest).hexdigest()
    module_sha256 = hashlib.sha256(proxy_module()).hexdigest()
    layers = {layer.digest.removeprefix("sha256:") for layer in image.layers}
    return manifest_digest, module_sha256, layers


def snippets_for(packed: tuple[str, str, set[str]], **extra: Any) -> InstallSnippets:
    digest, module, _ = packed
    args: dict[str, Any] = {
        "base_url": BASE, "namespace": "acme", "name": "auth/jwt", "version": "1.2.0",
        "digest": digest, "module_sha256": module, "plugin_config": CONFIG, "phase": "authz",
        "priority": 5, "root_id": "jwt", "filter_types": ("http",), "platforms": ALL,
        **extra,
    }
    return install_snippets(**args)


def test_istio_wasmplugin(packed: tuple[str, str, set[str]]) -> None:
    digest, module, layers = packed
    snippets = snippets_for(packed)
    doc = yaml.safe_load(snippets.istio_wasmplugin)
    assert doc["apiVersion"] == "extensions.istio.io/v1alpha1" and doc["kind"] == "WasmPlugin"
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == ("auth-jwt", "default")
    spec = doc["spec"]
    assert spec["url"] == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    # Istio verifies an OCI image by its manifest digest, not the module's checksum.
    assert spec["sha256"] == digest.removeprefix("sha256:")
    assert spec["sha256"] not in {module, *layers}
    assert (spec["phase"], spec["priority"], spec["pluginName"]) == ("AUTHZ", 5, "jwt")
    assert spec["pluginConfig"] == CONFIG
    assert spec["selector"] == {"matchLabels": {"app": "my-app"}}
    assert spec["type"] == "HTTP"
    istio = next(s for s in snippets.platforms if s.key == "istio")
    # A plain-HTTP hub: the page must say what Istio needs to pull from it.
    assert any("WASM_INSECURE_REGISTRIES=hub.example.com:5080" in n for n in istio.notes)


def test_envoy_gateway_extension_policy(packed: tuple[str, str, set[str]]) -> None:
    digest, _, _ = packed
    doc = yaml.safe_load(snippets_for(packed).envoy_gateway_extension_policy)
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


def test_higress_wasmplugin(packed: tuple[str, str, set[str]]) -> None:
    digest, _, _ = packed
    doc = yaml.safe_load(snippets_for(packed).higress_wasmplugin)
    assert doc["apiVersion"] == "extensions.higress.io/v1alpha1" and doc["kind"] == "WasmPlugin"
    assert doc["metadata"]["namespace"] == "higress-system"
    spec = doc["spec"]
    assert spec["url"] == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    assert spec["sha256"] == digest.removeprefix("sha256:")  # Istio's field, same meaning
    assert (spec["phase"], spec["priority"], spec["defaultConfig"]) == ("AUTHZ", 5, CONFIG)
    assert "selector" not in spec  # a Higress plugin applies to the gateway


def test_consul_envoy_and_gloo_snippets(packed: tuple[str, str, set[str]]) -> None:
    digest, module, _ = packed
    snippets = snippets_for(packed)
    consul = yaml.safe_load(snippets.text("consul"))
    remote = consul["spec"]["envoyExtensions"][0]["arguments"]["pluginConfig"]["vmConfig"][
        "code"]["remote"]
    assert remote["httpURI"]["uri"] == f"{BASE}/modules/sha256:{module}.wasm"
    assert remote["sha256"] == module
    bootstrap, ecds = yaml.safe_load_all(snippets.text("envoy"))
    wasm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"]["http_filters"][0]["typed_config"]["config"]
    assert wasm["vm_config"]["code"]["remote"]["sha256"] == module
    assert ecds["name"] == "auth-jwt"
    gloo = yaml.safe_load(snippets.text("gloo"))
    assert gloo["spec"]["httpGateway"]["options"]["wasm"]["filters"][0]["image"] == (
        f"{HOST}/acme/auth/jwt@{digest}")


def test_every_snippet_validates_against_its_schema(packed: tuple[str, str, set[str]]
                                                    ) -> None:
    for snippet in snippets_for(packed).platforms:
        assert not snippet.text.startswith("# not installable"), snippet.text
        for doc in yaml.safe_load_all(snippet.text):
            if "apiVersion" in doc and doc["kind"] != "Gateway" and "consul" not in \
                    doc["apiVersion"]:
                ref = SchemaRef("crd", f"{doc['apiVersion']}/{doc['kind']}")
                assert problems(RenderedResource(doc, ref, "x")) == [], snippet.key


def test_pull_command_and_order(packed: tuple[str, str, set[str]]) -> None:
    digest, _, _ = packed
    snippets = snippets_for(packed)
    assert snippets.pull_command == f"wasmhub pull {HOST}/acme/auth/jwt@{digest}"
    assert snippets.oci_url == f"oci://{HOST}/acme/auth/jwt:1.2.0"
    assert snippets.digest == digest
    assert [(s.key, s.language) for s in snippets.items] == [
        ("pull", "shell"), ("istio", "yaml"), ("istio-trafficextension", "yaml"),
        ("envoy-gateway", "yaml"), ("higress", "yaml"), ("consul", "yaml"),
        ("envoy", "yaml"), ("gloo", "yaml"),
    ]


def test_only_claimed_platforms_and_a_default(packed: tuple[str, str, set[str]]) -> None:
    claimed = snippets_for(packed, platforms=("envoy", "consul"))
    assert [s.key for s in claimed.platforms] == ["consul", "envoy"]
    assert claimed.istio_wasmplugin == ""
    unclaimed = snippets_for(packed, platforms=())
    assert [s.key for s in unclaimed.platforms] == [
        "istio", "istio-trafficextension", "envoy-gateway", "higress"]


def test_unpinned_versions_get_only_the_pull_command(packed: tuple[str, str, set[str]]
                                                     ) -> None:
    for digest in (None, "sha512:" + "ab" * 64, "sha256:tooshort"):
        snippets = snippets_for(packed, digest=digest)
        assert snippets.platforms == () and snippets.digest is None
        assert snippets.pull_command == f"wasmhub pull {HOST}/acme/auth/jwt:1.2.0"


def test_network_filter_unknown_phase(packed: tuple[str, str, set[str]]) -> None:
    snippets = snippets_for(packed, phase="weird", priority=None, root_id="",
                            filter_types=("network",), plugin_config=None)
    istio = yaml.safe_load(snippets.istio_wasmplugin)["spec"]
    assert "phase" not in istio and "priority" not in istio and "pluginName" not in istio
    assert istio["type"] == "NETWORK" and istio["pluginConfig"] == {}
    # Envoy Gateway runs HTTP filters only: the snippet says so instead of lying.
    assert snippets.envoy_gateway_extension_policy.startswith(
        "# not installable on Envoy Gateway: pluginType")


def test_helpers() -> None:
    assert registry_host("http://127.0.0.1:5080/") == "127.0.0.1:5080"
    assert registry_host("https://hub.example.com") == "hub.example.com"
    assert registry_host("hub.example.com:443") == "hub.example.com:443"
    assert manifest_pin("sha256:" + "0f" * 32) == "0f" * 32
    assert manifest_pin("sha256:" + "0F" * 32) is None  # the CRDs' pattern is lowercase
    assert manifest_pin(None) is None


def test_odd_names_become_kubernetes_names(packed: tuple[str, str, set[str]]) -> None:
    odd = snippets_for(packed, name="Weird_Name.v2/..")
    assert yaml.safe_load(odd.istio_wasmplugin)["metadata"]["name"] == "weird-name-v2"
