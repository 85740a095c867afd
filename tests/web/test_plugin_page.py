"""The plugin page: README, versions, facts, config form (no-JS and htmx), stars, i18n."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient

from tests.support.accounts import csrf_token, sign_in
from wasmhub.catalog.service import CatalogService

URL = "/plugins/acme/add-header"


def config_json(html: str) -> object:
    match = re.search(r'<code id="config-json"[^>]*>(.*?)</code>', html, re.S)
    assert match, "no config JSON on the page"
    import html as html_lib

    return json.loads(html_lib.unescape(match.group(1)))


def test_plugin_page_shows_everything(client: TestClient, seeded: CatalogService) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    html = response.text
    assert "<h1>Add Header</h1>" in html
    assert "<strong>one</strong>" in html  # README rendered
    assert "alert('readme')" not in html  # ... and sanitized by the service
    assert "1.0.0" in html and "0.9.0" in html
    # digest column: the full digest (copyable), and a pull command per version
    assert re.search(r'<code class="full-digest" id="digest-1" title="(sha256:00100[0-9a-f]+)">'
                     r"\1</code>", html)
    assert "wasmhub pull 127.0.0.1:5080/acme/add-header:0.9.0</code>" in html
    assert "Deprecated" in html
    assert "ABI 0.2.1" in html and "✓ Istio" in html and "✓ Envoy Gateway" in html
    assert "wasi_snapshot_preview1" in html and "env.proxy_log" in html
    assert "HTTP filter" in html
    # Snippets for what the page claims (Istio, Envoy Gateway), pinned by digest.
    assert "wasmhub pull " in html
    assert "kind: WasmPlugin" in html and "kind: EnvoyExtensionPolicy" in html
    assert "kind: TrafficExtension" in html
    assert "extensions.higress.io/v1alpha1" not in html  # Higress is not claimed
    assert html.count("sha256: ") >= 3
    # The hub is plain HTTP: the Istio tab says what the agent needs.
    assert "WASM_INSECURE_REGISTRIES=127.0.0.1:5080" in html
    assert "url: oci://127.0.0.1:5080/acme/add-header:1.0.0" in html


def test_config_form_is_generated_and_prefilled(client: TestClient, seeded: CatalogService) -> None:
    html = client.get(URL).text
    assert 'name="cfg/header"' in html and 'value="x-hello"' in html
    assert re.search(r'<select[^>]*name="cfg/mode"', html)
    assert '<option value="&#34;append&#34;"' in html
    assert 'type="checkbox" value="true"' in html
    assert re.search(r'<textarea[^>]*name="cfg/hosts"', html)
    assert "<legend>Upstream" in html and 'name="cfg/upstream/cluster"' in html
    assert 'type="number" step="1"' in html and 'min="1"' in html
    assert "Default: 10" in html
    assert config_json(html) == {"header": "x-hello", "value": "hello", "limit": 10,
                                 "enabled": True}


def test_version_query_and_yanked_marks(client: TestClient, seeded: CatalogService) -> None:
    html = client.get("/plugins/acme/rate-limit?version=0.9.0").text
    assert "This version was yanked" in html and "broken build" in html
    old = client.get(URL + "?version=0.9.0").text
    assert "This version is deprecated." in old and "use 1.0.0" in old


def test_no_js_config_post_renders_valid_json(client: TestClient, seeded: CatalogService) -> None:
    response = client.post(URL, data={
        "version": "1.0.0", "cfg/header": "x-tenant", "cfg/value": "acme", "cfg/limit": "5",
        "cfg/mode": '"overwrite"', "cfg/enabled": ["false"], "cfg/hosts": "a.com\nb.com",
        "cfg/upstream/cluster": "auth", "cfg/upstream/timeout_ms": "1.5",
    })
    assert response.status_code == 200
    html = response.text
    assert "Valid configuration." in html
    expected = {"header": "x-tenant", "value": "acme", "limit": 5, "mode": "overwrite",
                "enabled": False, "hosts": ["a.com", "b.com"],
                "upstream": {"cluster": "auth", "timeout_ms": 1.5}}
    assert config_json(html) == expected
    assert 'value="x-tenant"' in html  # the form keeps what was typed
    assert "header: x-tenant" in html  # snippets carry the validated config


def test_no_js_config_post_shows_field_errors(client: TestClient, seeded: CatalogService) -> None:
    response = client.post(URL, data={
        "cfg/header": "x", "cfg/limit": "many", "cfg/upstream/timeout_ms": "3",
    })
    html = response.text
    assert response.status_code == 200
    assert "problems: fix the highlighted fields" in html
    assert re.search(r'name="cfg/limit"[^>]*aria-invalid="true"', html)
    assert "&#39;many&#39; is not a whole number." in html
    assert "too short" in html  # minLength on header
    assert "This field is required." in html  # upstream.cluster once upstream is given
    assert 'value="many"' in html  # raw text kept for correction
    assert "header: x-hello" in html  # snippets keep the example config


def test_htmx_config_post_returns_the_section_and_snippets(
    client: TestClient, seeded: CatalogService
) -> None:
    response = client.post(URL, data={"cfg/header": "x-abc"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith('<div id="config-section">') and "<html" not in html
    assert config_json(html) == {"header": "x-abc"}
    assert 'id="code-istio" data-snippet="istio" hx-swap-oob="true"' in html


def test_star_without_and_with_htmx(client: TestClient, seeded: CatalogService) -> None:
    # Signed out: a star needs a person, so the form leads to sign in (and stores nothing).
    anonymous = client.post("/stars/acme/add-header", follow_redirects=False,
                            data={"starred": "true", "csrf_token": csrf_token(client)})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/account/sign-in?next=")
    assert seeded.get_plugin("acme", "add-header").summary.stars == 0
    # Without the form's CSRF token nothing happens either, signed in or not.
    csrf = sign_in(client, "sam")
    forged = client.post("/stars/acme/add-header", data={"starred": "true"},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert seeded.get_plugin("acme", "add-header").summary.stars == 0
    response = client.post("/stars/acme/add-header", data={"starred": "true",
                           "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == URL
    html = client.get(URL).text
    assert 'aria-pressed="true"' in html and "Starred" in html
    assert seeded.get_plugin("acme", "add-header").summary.stars == 1
    fragment = client.post("/stars/acme/add-header", data={"starred": "false"},
                           headers={"HX-Request": "true", "X-CSRF-Token": csrf}).text
    assert fragment.lstrip().startswith('<form id="star-form"')
    assert 'aria-pressed="false"' in fragment
    assert seeded.get_plugin("acme", "add-header").summary.stars == 0
    assert client.post("/stars/acme/missing",
                       data={"csrf_token": csrf}).status_code == 404


def test_chinese_page_and_language_switch(client: TestClient, seeded: CatalogService) -> None:
    response = client.get(URL + "?lang=zh")
    assert response.cookies.get("lang") == "zh"
    html = response.text
    assert '<html lang="zh-Hans">' in html
    assert "<h1>添加请求头</h1>" in html and "中文说明。" in html
    assert "配置" in html and "版本" in html
    # The cookie now keeps Chinese; zh falls back to English where a plugin has no zh text.
    jwt = client.get("/plugins/security/jwt-auth").text
    assert "<h1>JWT Auth</h1>" in jwt and "加星标" in jwt
    back = client.get(URL + "?lang=en")
    assert "<h1>Add Header</h1>" in back.text and back.cookies.get("lang") == "en"


def test_accept_language_picks_chinese(settings: object, seeded: CatalogService,
                                       client: TestClient) -> None:
    client.cookies.clear()
    html = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert '<html lang="zh-Hans">' in html and "热门" in html and "添加请求头" in html
    assert 'href="/?lang=en"' in html
