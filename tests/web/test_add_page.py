"""The add-plugin form: its own checks, the service's typed errors, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.catalog.tls import LoopbackPKI, pki, secure_web
from tests.support.accounts import csrf_token
from wasmhub.app import create_app
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import SearchQuery
from wasmhub.settings import Settings

__all__ = ["pki", "secure_web"]  # fixtures


def csrf(client: TestClient) -> dict[str, str]:
    """The form field every POST carries (the page's CSRF token)."""
    return {"csrf_token": csrf_token(client)}


def total(catalog: CatalogService) -> int:
    return catalog.search(SearchQuery()).total


def test_add_form_renders_every_field(client: TestClient) -> None:
    html = client.get("/add").text
    for name in ("url", "display_name_en", "display_name_zh", "description_en",
                 "description_zh", "namespace", "name"):
        assert f'name="{name}"' in html and f'for="add-{name}"' in html
    assert 'method="post" action="/add"' in html
    zh = client.get("/add?lang=zh").text
    assert "英文名称" in zh and "中文名称" in zh


def test_missing_and_bad_fields_are_explained(client: TestClient,
                                              catalog: CatalogService) -> None:
    response = client.post("/add", data={**csrf(client), "url": "", "display_name_en": ""})
    assert response.status_code == 400
    assert "Enter the plugin&#39;s URL." in response.text
    assert "Enter an English name." in response.text
    assert 'aria-invalid="true"' in response.text
    bad = client.post("/add", data={**csrf(client), "url": "ftp://example.com/x.wasm",
                                    "display_name_en": "X",
                                    "display_name_zh": "某插件"})
    assert bad.status_code == 400
    assert "Use an oci:// image reference or an https:// link" in bad.text
    assert 'value="某插件"' in bad.text  # what the user typed is kept
    assert "https:///" not in bad.text
    long = client.post("/add", data={**csrf(client), "url": "oci://h/x:1",
                                     "display_name_en": "x" * 300})
    assert "At most 255 characters." in long.text
    assert total(catalog) == 0


def test_xss_in_typed_values_is_escaped(client: TestClient) -> None:
    payload = '"><script>alert(1)</script>'
    html = client.post("/add", data={**csrf(client), "url": "", "display_name_en": payload}).text
    assert "<script>alert(1)</script>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html


@pytest.fixture
def tls_client(settings: Settings, pki: LoopbackPKI) -> Iterator[TestClient]:
    """The app trusting the test CA (fetch_ca_bundle), loopback sources allowed."""
    app = create_app(settings.model_copy(update={"fetch_ca_bundle": pki.ca}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_form_post_adds_a_real_plugin_without_javascript(tls_client: TestClient,
                                                         secure_web: str) -> None:
    response = tls_client.post("/add", follow_redirects=False, data={**csrf(tls_client),
        "url": f"{secure_web}/plugin.wasm", "display_name_en": "Form Added",
        "display_name_zh": "表单添加", "description_en": "Added through the form",
        "description_zh": "", "namespace": "acme", "name": "",
    })
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/plugins/acme/form-added"
    page = tls_client.get("/plugins/acme/form-added").text
    assert "Form Added" in page and "Added through the form" in page
    assert "ABI 0.2.1" in page
    assert "表单添加" in tls_client.get("/plugins/acme/form-added?lang=zh").text
    api = tls_client.get("/api/v1/plugins/acme/form-added").json()
    assert api["display_name"] == {"en": "Form Added", "zh": "表单添加"}
    assert api["origin_url"] == f"{secure_web}/plugin.wasm"
    assert tls_client.head("/v2/acme/form-added/manifests/1.0.0", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json"}).status_code == 200
    again = tls_client.post("/add", data={**csrf(tls_client), "url": f"{secure_web}/plugin.wasm",
                                          "display_name_en": "Form Added",
                                          "namespace": "acme"})
    assert again.status_code == 409 and "already exists" in again.text


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/missing.wasm", 502, "answered HTTP 404"),
    ("/notes.txt", 400, "is not a WebAssembly module"),
    ("/plain.wasm", 400, "proxy_abi_version"),
])
def test_form_post_failures_are_shown_and_store_nothing(
    tls_client: TestClient, secure_web: str, path: str, status: int, message: str
) -> None:
    response = tls_client.post("/add", data={**csrf(tls_client), "url": secure_web + path,
                                             "display_name_en": "Broken", "namespace": "acme"})
    assert response.status_code == status
    assert "The plugin was not added." in response.text and message in response.text
    assert "Check this URL." in response.text and 'aria-invalid="true"' in response.text
    assert tls_client.get("/api/v1/plugins/acme/broken").status_code == 404
    assert tls_client.get("/api/v1/plugins").json()["total"] == 0
