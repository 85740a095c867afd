"""The add-plugin form: its own checks, the service's typed errors, nothing stored."""

from __future__ import annotations

from starlette.testclient import TestClient

from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import SearchQuery


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
    response = client.post("/add", data={"url": "", "display_name_en": ""})
    assert response.status_code == 400
    assert "Enter the plugin&#39;s URL." in response.text
    assert "Enter an English name." in response.text
    assert 'aria-invalid="true"' in response.text
    bad = client.post("/add", data={"url": "ftp://example.com/x.wasm", "display_name_en": "X",
                                    "display_name_zh": "某插件"})
    assert bad.status_code == 400
    assert "Use an oci:// image reference or an https:// link" in bad.text
    assert 'value="某插件"' in bad.text  # what the user typed is kept
    assert "https:///" not in bad.text
    long = client.post("/add", data={"url": "oci://h/x:1", "display_name_en": "x" * 300})
    assert "At most 255 characters." in long.text
    assert total(catalog) == 0


def test_xss_in_typed_values_is_escaped(client: TestClient) -> None:
    payload = '"><script>alert(1)</script>'
    html = client.post("/add", data={"url": "", "display_name_en": payload}).text
    assert "<script>alert(1)</script>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html
