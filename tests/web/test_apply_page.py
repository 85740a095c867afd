"""The Apply page (/apply/{ns}/{name}) in-process: the form renders the providers' output
and the equivalent command; bad input comes back as field errors (never a 500); without
cluster access there is no Apply-to-cluster action, and posting one is refused."""

from __future__ import annotations

import html as html_lib
import re
import shlex

import pytest
import yaml
from starlette.testclient import TestClient

from wasmhub.catalog.service import CatalogService
from wasmhub.deploy.provider import RenderedResource, SchemaRef
from wasmhub.deploy.schemas import validate

URL = "/apply/acme/add-header"
CONFIG = {"cfg/header": "x-tenant", "cfg/value": "hello", "cfg/limit": "3"}


def code(html: str, element_id: str) -> str:
    match = re.search(rf'<code id="{element_id}"[^>]*>(.*?)</code>', html, re.S)
    assert match, f"no #{element_id} on the page"
    return html_lib.unescape(match.group(1))


def errors(html: str, field: str) -> list[str]:
    box = re.search(rf'data-errors-for="{re.escape(field)}">(.*?)</div>', html, re.S)
    assert box, f"no error box for {field}"
    return [html_lib.unescape(m) for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>',
                                                      box.group(1), re.S)]


def all_errors(html: str) -> list[str]:
    return [html_lib.unescape(m) for m in re.findall(
        r'<p class="(?:error|alert alert-error)"[^>]*>(.*?)</p>', html, re.S)]


def post(client: TestClient, **fields: str) -> tuple[int, str]:
    data = {"version": "1.0.0", "action": "render", **CONFIG, **fields}
    response = client.post(URL, data=data)
    return response.status_code, response.text


def test_get_renders_defaults_for_the_first_claimed_platform(
        client: TestClient, seeded: CatalogService) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    html = response.text
    docs = list(yaml.safe_load_all(code(html, "rendered-yaml")))
    [doc] = docs
    assert doc["kind"] == "WasmPlugin"
    assert doc["spec"]["selector"]["matchLabels"] == {"app": "my-app"}
    assert doc["spec"]["phase"] == "AUTHN"  # the plugin's own phase
    assert doc["spec"]["pluginConfig"] == {"header": "x-hello", "value": "hello",
                                           "limit": 10, "enabled": True}
    assert code(html, "deploy-command").startswith(
        "wasmhub deploy istio 127.0.0.1:5080/acme/add-header:1.0.0 -l app=my-app")
    # No cluster configured: render and copy only, and the page says which setting.
    assert 'id="apply-to-cluster"' not in html and "deploy_kubeconfig" in html
    # The plugin page links here.
    page = client.get("/plugins/acme/add-header").text
    assert 'href="/apply/acme/add-header?version=1.0.0"' in page
    assert 'href="/installed/acme/add-header"' in page


def test_post_renders_every_choice_and_the_same_command(
        client: TestClient, seeded: CatalogService) -> None:
    status, html = post(client, platform="istio", name="tenant-header", namespace="shop",
                        selector="app=web\nversion=v2", phase="AUTHZ", priority="250",
                        env="LOG=info", host_env="POD_NAME", fail_strategy="fail-open")
    assert status == 200, all_errors(html)
    [doc] = yaml.safe_load_all(code(html, "rendered-yaml"))
    validate(RenderedResource(doc, SchemaRef("crd", "extensions.istio.io/v1alpha1/WasmPlugin"),
                              "x.yaml"))
    spec = doc["spec"]
    assert doc["metadata"] == {**doc["metadata"], "name": "tenant-header", "namespace": "shop"}
    assert spec["selector"]["matchLabels"] == {"app": "web", "version": "v2"}
    assert (spec["phase"], spec["priority"], spec["failStrategy"]) == (
        "AUTHZ", 250, "FAIL_OPEN")
    assert spec["pluginConfig"]["header"] == "x-tenant" and spec["pluginConfig"]["limit"] == 3
    assert {"name": "LOG", "valueFrom": "INLINE", "value": "info"} in spec["vmConfig"]["env"]
    assert {"name": "POD_NAME", "valueFrom": "HOST"} in spec["vmConfig"]["env"]
    command = shlex.split(code(html, "deploy-command"))
    assert command[:4] == ["wasmhub", "deploy", "istio", "127.0.0.1:5080/acme/add-header:1.0.0"]
    pairs = list(zip(command[4::2], command[5::2], strict=True))
    assert ("--name", "tenant-header") in pairs and ("-n", "shop") in pairs
    assert ("-l", "app=web") in pairs and ("-l", "version=v2") in pairs
    assert ("--priority", "250") in pairs and ("--phase", "AUTHZ") in pairs
    assert ("--env", "LOG=info") in pairs and ("--host-env", "POD_NAME") in pairs
    assert ("--fail-strategy", "fail-open") in pairs
    [config] = [v for k, v in pairs if k == "--config"]
    assert yaml.safe_load(config)["header"] == "x-tenant"


def test_other_platforms_read_only_their_own_targets(
        client: TestClient, seeded: CatalogService) -> None:
    # Without JS every input is posted: the selector must not leak into Envoy Gateway.
    status, html = post(client, platform="envoy-gateway", selector="app=web",
                        target_refs="HTTPRoute/store")
    assert status == 200, all_errors(html)
    [doc] = yaml.safe_load_all(code(html, "rendered-yaml"))
    assert doc["kind"] == "EnvoyExtensionPolicy"
    assert doc["spec"]["targetRefs"][0]["name"] == "store"
    assert "-l" not in shlex.split(code(html, "deploy-command"))
    status, html = post(client, platform="envoy", listen_port="10001",
                        upstream="127.0.0.1:9000")
    assert status == 200, all_errors(html)
    bootstrap = code(html, "rendered-yaml")
    assert "envoy.extensions.filters.http.wasm.v3.Wasm" in bootstrap
    assert "port_value: 10001" in bootstrap and "port_value: 9000" in bootstrap


@pytest.mark.parametrize(("fields", "field", "expected"), [
    ({"priority": "0"}, "priority", "greater than or equal to 1"),
    ({"priority": "1001"}, "priority", "less than or equal to 1000"),
    ({"priority": "high"}, "priority", "not a whole number"),
    ({"selector": "app web"}, "selector", "expected KEY=VALUE"),
    ({"selector": "app=bad value!"}, "selector", "label value"),
    ({"selector": "bad key=web"}, "selector", "label key"),
    ({"platform": "nginx"}, "platform", "not a platform"),
    ({"phase": "FIRST"}, "phase", "AUTHN"),
    ({"cfg/header": "x"}, "cfg/header", "too short"),
    ({"cfg/limit": "0"}, "cfg/limit", "minimum"),
    ({"platform": "envoy-gateway", "target_refs": "store"}, "target_refs", "KIND/NAME"),
    ({"platform": "envoy-gateway", "env": "A=1"}, "env", "host keys only"),
    ({"env": "1BAD=x"}, "env", "not an environment variable name"),
    ({"platform": "envoy", "upstream": "nowhere"}, "upstream", "HOST:PORT"),
])
def test_bad_input_is_a_field_error_not_a_500(
        client: TestClient, seeded: CatalogService, fields: dict[str, str], field: str,
        expected: str) -> None:
    status, html = post(client, **fields)
    assert status == 422
    found = errors(html, field)
    assert any(expected in message for message in found), (field, found)
    assert 'aria-invalid="true"' in html
    assert 'id="rendered-yaml"' not in html  # nothing rendered from a bad form
    assert "problem" in html


def test_apply_without_cluster_access_is_refused(
        client: TestClient, seeded: CatalogService) -> None:
    # No CSRF token: refused before anything else.
    response = client.post(URL, data={"version": "1.0.0", "action": "apply", **CONFIG})
    assert response.status_code == 403
    page = client.get(URL)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = client.post(URL, data={"version": "1.0.0", "action": "apply",
                                      "csrf_token": token.group(1), **CONFIG})
    assert response.status_code == 401  # anonymous: sign in (and then: site admins only)


def test_unknown_plugin_and_version_are_not_found(
        client: TestClient, seeded: CatalogService) -> None:
    assert client.get("/apply/acme/nope").status_code == 404
    assert client.get(URL + "?version=9.9.9").status_code == 404
    assert client.get("/installed/acme/nope").status_code == 404
