"""Home, search, namespace and error pages over the real app and catalog."""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.testclient import TestClient

from tests.web.seed import XSS_DESCRIPTION, XSS_NAME
from wasmhub.catalog.service import CatalogService


def plugin_links(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/plugins/([^"]+)"', html)


def test_home_shows_popular_recent_categories_and_search(
    client: TestClient, seeded: CatalogService
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="en">' in html
    assert 'action="/search"' in html and 'name="q"' in html
    assert "Popular" in html and "Recently updated" in html
    assert 'href="/search?category=transformation"' in html and "Transformation" in html
    assert "acme/add-header" in plugin_links(html)
    assert "/static/wasmhub.css" in html and "/static/htmx-2.0.4.min.js" in html


def test_empty_home_invites_adding(client: TestClient) -> None:
    html = client.get("/").text
    assert "No plugins yet" in html and 'href="/add"' in html


def test_search_text_and_each_facet(client: TestClient, seeded: CatalogService) -> None:
    assert plugin_links(client.get("/search?q=jwt").text) == ["security/jwt-auth"]
    assert plugin_links(client.get("/search?category=traffic").text) == ["acme/rate-limit"]
    assert plugin_links(client.get("/search?filter_type=network").text) == ["obs/tcp-metrics"]
    assert plugin_links(client.get("/search?platform=higress").text) == ["security/jwt-auth"]
    assert sorted(plugin_links(client.get("/search?namespace=acme").text)) == [
        "acme/add-header", "acme/rate-limit"]
    abi = plugin_links(client.get("/search?abi=0.2.0").text)
    assert abi == ["acme/rate-limit"]
    html = client.get("/search?abi=0.2.0").text
    assert re.search(r'name="abi" value="0.2.0"\s+checked', html)
    assert "1 plugin<" in html


def test_search_sort_and_junk_parameters(client: TestClient, seeded: CatalogService) -> None:
    by_stars = plugin_links(client.get("/search?sort=stars").text)
    assert by_stars[0] == "acme/rate-limit"
    assert len(by_stars) == 5
    html = client.get("/search?sort=nonsense&page=abc").text
    assert '<option value="relevance" selected>' in html
    assert "No plugins match" in client.get("/search?q=zzzzzz").text


def test_search_pagination(client: TestClient, catalog: CatalogService) -> None:
    from tests.web.seed import PLUGINS, version

    PLUGINS.append(("bulk/p", "Bulk", "", "bulk", "", "other", "0.2.1", ("http",), ()))
    try:
        for number in range(25):
            record = version("bulk/p", "1.0.0", number)
            catalog.record_version(replace(record, repository=f"bulk/p{number:02d}"))
    finally:
        PLUGINS.pop()
    first = client.get("/search?namespace=bulk").text
    assert len(plugin_links(first)) == 20
    assert 'href="/search?namespace=bulk&amp;page=2"' in first and 'rel="next"' in first
    second = client.get("/search?namespace=bulk&page=2").text
    assert len(plugin_links(second)) == 5
    assert '<span aria-current="page">2</span>' in second


def test_htmx_search_returns_only_the_results(client: TestClient, seeded: CatalogService) -> None:
    response = client.get("/search?q=jwt", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="results">')
    assert "<html" not in response.text
    assert plugin_links(response.text) == ["security/jwt-auth"]


def test_xss_in_names_and_descriptions_is_escaped(
    client: TestClient, seeded: CatalogService
) -> None:
    for url in ("/", "/search?q=", "/namespaces/evil", "/plugins/evil/xss", "/search?q=script"):
        html = client.get(url).text
        assert XSS_NAME not in html, url
        assert XSS_DESCRIPTION not in html, url
        assert "<script>alert" not in html, url
    page = client.get("/plugins/evil/xss").text
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page  # an unsafe source URL is shown, not linked
    echoed = client.get('/search?q=<script>alert(9)</script>').text
    assert "<script>alert(9)" not in echoed and "&lt;script&gt;alert(9)" in echoed


def test_namespace_page_lists_its_plugins(client: TestClient, seeded: CatalogService) -> None:
    html = client.get("/namespaces/acme").text
    assert sorted(plugin_links(html)) == ["acme/add-header", "acme/rate-limit"]
    assert "<h1>acme</h1>" in html
    missing = client.get("/namespaces/nobody")
    assert missing.status_code == 404 and "Namespace not found" in missing.text


def test_error_pages_share_the_look(client: TestClient, seeded: CatalogService) -> None:
    for url in ("/no/such/page", "/plugins/acme/nope", "/plugins/acme/add-header?version=9"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html")
        assert 'class="error-code">404<' in response.text
        assert 'class="site-header"' in response.text
    wrong_method = client.delete("/search")
    assert wrong_method.status_code == 405 and 'class="error-code">405<' in wrong_method.text
    zh = client.get("/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert "页面不存在" in zh.text


def test_api_and_registry_are_not_shadowed_by_the_ui(client: TestClient) -> None:
    assert client.get("/api/v1/plugins").headers["content-type"].startswith("application/json")
    assert client.get("/v2/").status_code in (200, 401)


def test_static_files_are_served(client: TestClient) -> None:
    css = client.get("/static/wasmhub.css")
    assert css.status_code == 200 and "--brand" in css.text
    assert "htmx" in client.get("/static/htmx-2.0.4.min.js").text
    assert "0BSD" in client.get("/static/htmx-LICENSE.txt").text or "Zero-Clause" in client.get(
        "/static/htmx-LICENSE.txt").text
