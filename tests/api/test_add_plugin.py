"""POST /api/v1/plugins (add by URL) through the API: created, refused, problem+json."""

from __future__ import annotations

import html
import socket

import pytest
import yaml
from starlette.testclient import TestClient

from tests.support.accounts import make_user
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@pytest.fixture
def USER(client: TestClient) -> dict[str, str]:
    """A signed-in person; add-by-URL goes to the unowned ``library`` namespace of this
    development hub (tests/conftest.py: open_namespaces)."""
    return make_user(client.app.state.hub, "ann")  # type: ignore[attr-defined]


def body(url: str, **extra: object) -> dict[str, object]:
    return {"url": url, "display_name": {"en": "Hello API", "zh": "你好"},
            "description": {"en": "Added over the API"}, **extra}


def test_add_by_url_creates_the_plugin(
    client: TestClient, web: str, USER: dict[str, str]
) -> None:
    response = client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm"), headers=USER)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["namespace"], created["name"]) == ("library", "hello-api")
    assert response.headers["location"] == "/api/v1/plugins/library/hello-api"
    assert client.get(response.headers["location"]).json()["display_name"]["zh"] == "你好"
    again = client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm"), headers=USER)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_add_by_url_refusals(client: TestClient, web: str, USER: dict[str, str]) -> None:
    cases = [
        (body(f"{web}/notes.txt"), 400, "not a WebAssembly module"),
        (body(f"{web}/plain.wasm"), 400, "proxy_abi_version"),
        (body(f"{web}/missing.wasm"), 502, "HTTP 404"),
        (body(f"{web}/to-metadata"), 400, "refused: private address"),
        (body("ftp://example.com/x.wasm"), 422, "url"),
        (body(f"{web}/plugin.wasm", namespace="Bad Space"), 422, "namespace"),
        ({"url": f"{web}/plugin.wasm"}, 422, "display_name"),
        (body(f"{web}/plugin.wasm", extra_field=1), 422, "extra_field"),
    ]
    for payload, status, words in cases:
        response = client.post("/api/v1/plugins", json=payload, headers=USER)
        assert response.status_code == status, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert words in response.text, response.text
    assert client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm")).status_code == 401
    assert client.post("/api/v1/plugins", content=b"{", headers={
        **USER, "Content-Type": "application/json"}).status_code == 422
    assert client.get("/api/v1/plugins").json()["total"] == 0


def test_version_detail_returns_every_snippet_pinned_by_the_manifest_digest(
    client: TestClient, web: str, USER: dict[str, str]
) -> None:
    created = client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm", name="pinned"),
                          headers=USER)
    assert created.status_code == 201, created.text
    head = client.head("/v2/library/pinned/manifests/1.0.0", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json"})
    digest = head.headers["docker-content-digest"]
    snippets = client.get("/api/v1/plugins/library/pinned/versions/1.0.0").json()["snippets"]
    host = snippets["oci_url"].removeprefix("oci://").split("/", 1)[0]
    assert snippets["oci_url"] == f"oci://{host}/library/pinned:1.0.0"
    assert snippets["digest"] == digest
    assert snippets["pull_command"] == f"wasmhub pull {host}/library/pinned@{digest}"
    istio = yaml.safe_load(snippets["istio_wasmplugin"])
    eg = yaml.safe_load(snippets["envoy_gateway_extension_policy"])
    higress = yaml.safe_load(snippets["higress_wasmplugin"])
    assert (istio["kind"], eg["kind"], higress["kind"]) == (
        "WasmPlugin", "EnvoyExtensionPolicy", "WasmPlugin")
    pin = digest.removeprefix("sha256:")
    assert istio["spec"]["sha256"] == pin == higress["spec"]["sha256"]
    assert eg["spec"]["wasm"][0]["code"]["image"]["sha256"] == pin
    assert istio["spec"]["url"] == higress["spec"]["url"] == snippets["oci_url"]
    # One source: the plugin page shows the same manifests the API returns.
    page = client.get("/plugins/library/pinned").text
    for text in (snippets["istio_wasmplugin"], snippets["envoy_gateway_extension_policy"],
                 snippets["higress_wasmplugin"], snippets["pull_command"]):
        assert html.escape(text, quote=False) in page


def test_an_unresolvable_host_answers_a_400_problem(settings: Settings) -> None:
    def no_such_name(host: str, _port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # The hub's resolver, injected: the made-up name never reaches the system's DNS.
    hub = Hub.open(settings, resolver=no_such_name)
    with TestClient(create_app(settings, hub), raise_server_exceptions=False) as client:
        response = client.post("/api/v1/plugins", json=body("https://nosuch.example/x.wasm"),
                               headers=make_user(hub, "ann"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "'nosuch.example'" in response.json()["detail"]
    assert "cannot be resolved" in response.json()["detail"]
