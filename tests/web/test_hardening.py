"""Security headers on every HTML page, no off-host links or redirects from the request,
API docs served by the hub itself. In-process, on both databases."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from wasmhub.catalog.service import CatalogService

PAGES = ["/", "/search?q=header", "/add", "/namespaces/acme", "/plugins/acme/add-header",
         "/no/such/page", "/search?category=a%00", "/api/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_every_html_page_carries_the_security_headers(
    client: TestClient, seeded: CatalogService, path: str
) -> None:
    r = client.get(path)
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    # Nothing inline for the CSP to block: no <script> body, no style attribute/element.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), path
    assert "<style" not in r.text and " style=" not in r.text
    assert not re.search(r"<[a-zA-Z][^>]*\son[a-z]+=", r.text)


def test_non_html_responses_are_nosniff(client: TestClient) -> None:
    for path in ("/healthz", "/api/v1/plugins", "/v2/"):
        assert client.get(path).headers["X-Content-Type-Options"] == "nosniff"


def test_language_switch_never_links_to_another_host(
    client: TestClient, seeded: CatalogService
) -> None:
    r = client.get("http://testserver//evil.example/x")  # the path is "//evil.example/x"
    links = re.findall(r'href="([^"]*lang=[^"]*)"', r.text)
    assert links, r.text[:500]
    for link in links:
        assert link.startswith("/evil.example/x?"), link


@pytest.mark.parametrize("path", ["/api/v1/plugins/", "/search/"])
def test_redirects_do_not_follow_the_host_header(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.is_redirect  # the trailing-slash redirect
    location = r.headers["location"]
    assert location == path.rstrip("/"), location


def test_api_docs_assets_come_from_the_hub(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/api/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and asset.content, source
    assert client.get("/api/docs/assets/swagger-ui-bundle.js.map").status_code == 404
    assert client.get("/api/docs/assets/../../openapi.json").status_code in (404, 200)
