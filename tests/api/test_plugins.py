"""REST v1 endpoints over data recorded through CatalogService, on both backends."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.catalog.records import record
from tests.support.accounts import make_user
from wasmhub.catalog.service import CatalogService

XSS_README = """# Hello

<script>alert('readme')</script>
<img src="x" onerror="alert(1)">
[click](javascript:alert(2))
<a href="https://example.com" onclick="alert(3)">ok</a>
<iframe src="https://evil.example"></iframe>
<a href="javascript:alert(4)">raw</a> <a href="JaVaScRiPt&colon;alert(5)">enc</a>
"""


@pytest.fixture
def seeded(catalog: CatalogService) -> CatalogService:
    catalog.record_version(record(
        "acme/rate-limit", "1.0.0", en="Rate Limit", zh="限流", description="Token bucket",
        readme=XSS_README, root_id="rate_limit", phase="AUTHZ", priority=10,
        config_schema={"type": "object", "properties": {"rps": {"type": "integer"}}},
        example_config={"rps": 5}, imports=("env.proxy_log",), wasi="wasi_unstable",
        module_sha256="ab" * 32, module_size=4096, icon_media_type="image/svg+xml",
        icon=b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    ))
    catalog.record_version(record(
        "acme/rate-limit", "1.1.0", en="Rate Limit", zh="限流", description="Token bucket",
        readme=XSS_README, minutes=5,
    ))
    catalog.record_version(record(
        "acme/jwt", "0.1.0", en="JWT <b>Auth</b>", description="<script>x</script> token checks",
        category="auth", minutes=2,
    ))
    return catalog


@pytest.fixture
def USER(catalog: CatalogService) -> dict[str, str]:
    """ann, owner of the acme organization the seeded plugins belong to."""
    return make_user(catalog.hub, "ann", owns=("acme",))


def test_list_search_and_contract_shape(client: TestClient, seeded: CatalogService) -> None:
    response = client.get("/api/v1/plugins", params={"q": "token", "sort": "updated"})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 20)
    first = body["items"][0]
    assert set(first) >= {
        "namespace", "name", "display_name", "description", "category", "latest_version",
        "abi_version", "filter_types", "stars", "downloads", "updated_at",
    }
    assert (first["namespace"], first["name"], first["latest_version"]) == (
        "acme", "rate-limit", "1.1.0"
    )
    assert first["display_name"] == {"en": "Rate Limit", "zh": "限流"}
    filtered = client.get("/api/v1/plugins", params={"category": "auth"}).json()
    assert [p["name"] for p in filtered["items"]] == ["jwt"]
    paged = client.get("/api/v1/plugins", params={"per_page": 1, "page": 2}).json()
    assert (len(paged["items"]), paged["total"]) == (1, 2)


def test_etag_and_if_none_match(
    client: TestClient, seeded: CatalogService, USER: dict[str, str]
) -> None:
    for path in ["/api/v1/plugins", "/api/v1/plugins/acme/rate-limit",
                 "/api/v1/plugins/acme/rate-limit/versions",
                 "/api/v1/plugins/acme/rate-limit/versions/1.0.0",
                 "/api/v1/categories", "/api/v1/facets"]:
        first = client.get(path)
        assert first.status_code == 200, path
        etag = first.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", path
        assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    before = client.get("/api/v1/plugins/acme/rate-limit").headers["etag"]
    client.put("/api/v1/plugins/acme/rate-limit/star", headers=USER)
    assert client.get(
        "/api/v1/plugins/acme/rate-limit", headers={"If-None-Match": before}
    ).status_code == 200


def test_plugin_and_version_detail(client: TestClient, seeded: CatalogService) -> None:
    plugin = client.get("/api/v1/plugins/acme/rate-limit").json()
    assert [v["tag"] for v in plugin["versions"]] == ["1.1.0", "1.0.0"]
    assert plugin["icon_url"] is None  # the latest version has no icon
    version = client.get("/api/v1/plugins/acme/rate-limit/versions/1.0.0").json()
    assert version["config_schema"]["properties"]["rps"]["type"] == "integer"
    assert version["example_config"] == {"rps": 5}
    facts = (version["root_id"], version["phase"], version["priority"])
    assert facts == ("rate_limit", "AUTHZ", 10)
    assert version["imports"] == ["env.proxy_log"] and version["wasi"] == "wasi_unstable"
    snippets = version["snippets"]
    assert snippets["oci_url"].endswith("/acme/rate-limit:1.0.0")
    assert snippets["oci_url"].startswith("oci://")
    assert "kind: WasmPlugin" in snippets["istio_wasmplugin"]
    assert "rps: 5" in snippets["istio_wasmplugin"]
    assert "phase: AUTHZ" in snippets["istio_wasmplugin"]


def test_readme_and_text_are_sanitized(client: TestClient, seeded: CatalogService) -> None:
    html = client.get("/api/v1/plugins/acme/rate-limit/versions/1.0.0").json()["readme_html"]["en"]
    assert "<h1>Hello</h1>" in html
    lowered = html.lower()
    for bad in ["<script", "onerror", "onclick", 'href="javascript', "<iframe", "&colon;"]:
        assert bad not in lowered, bad
    assert 'href="https://example.com"' in html and "noopener" in html
    plugin = client.get("/api/v1/plugins/acme/rate-limit").json()
    assert "<script" not in plugin["readme_html"]["en"].lower()
    # Names and descriptions are JSON text, never HTML: returned verbatim for escaping
    # by whoever renders them, and served as application/json.
    jwt = client.get("/api/v1/plugins/acme/jwt")
    assert jwt.headers["content-type"].startswith("application/json")


def test_icon(client: TestClient, seeded: CatalogService) -> None:
    missing = client.get("/api/v1/plugins/acme/rate-limit/icon")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    seeded.yank("acme", "rate-limit", "1.1.0", "broken build")
    icon = client.get("/api/v1/plugins/acme/rate-limit/icon")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in icon.headers["content-security-policy"]
    assert icon.headers["x-content-type-options"] == "nosniff"


def test_stars(
    client: TestClient, seeded: CatalogService, USER: dict[str, str]
) -> None:
    path = "/api/v1/plugins/acme/rate-limit/star"
    assert client.put(path, headers=USER).json() == {"starred": True, "stars": 1}
    assert client.put(path, headers=USER).json() == {"starred": True, "stars": 1}
    bob = make_user(seeded.hub, "bob")  # any signed-in person may star a public plugin
    assert client.put(path, headers=bob).json()["stars"] == 2
    assert client.get("/api/v1/plugins/acme/rate-limit", headers=USER).json()["starred"]
    assert client.delete(path, headers=USER).json() == {"starred": False, "stars": 1}
    assert client.delete(path, headers=USER).json() == {"starred": False, "stars": 1}
    anonymous = client.put(path)
    assert anonymous.status_code == 401
    assert "sign in" in anonymous.json()["detail"]
    assert client.put("/api/v1/plugins/acme/nope/star", headers=USER).status_code == 404


def test_deprecate_and_yank(
    client: TestClient, seeded: CatalogService, USER: dict[str, str]
) -> None:
    base = "/api/v1/plugins/acme/rate-limit/versions/1.1.0"
    response = client.put(base + "/deprecation", json={"reason": "use 2.x"}, headers=USER)
    assert response.status_code == 200
    assert response.json()["deprecated"] and response.json()["deprecation_reason"] == "use 2.x"
    yanked = client.put(base + "/yank", json={"reason": "CVE-2025-1"}, headers=USER).json()
    assert yanked["yanked"] and yanked["yank_reason"] == "CVE-2025-1"
    # A yanked version is no longer the latest.
    assert client.get("/api/v1/plugins/acme/rate-limit").json()["latest_version"] == "1.0.0"
    assert not client.delete(base + "/yank", headers=USER).json()["yanked"]
    assert client.get("/api/v1/plugins/acme/rate-limit").json()["latest_version"] == "1.1.0"
    assert not client.delete(base + "/deprecation", headers=USER).json()["deprecated"]
    assert client.put(base + "/yank", json={"reason": ""}, headers=USER).status_code == 422
    assert client.put(base + "/yank", json={"reason": "x"}).status_code == 401
    assert client.put(
        "/api/v1/plugins/acme/rate-limit/versions/9.9.9/yank", json={"reason": "x"},
        headers=USER,
    ).status_code == 404


def test_categories_and_facets(client: TestClient, seeded: CatalogService) -> None:
    assert client.get("/api/v1/categories").json() == [
        {"value": "auth", "count": 1}, {"value": "traffic", "count": 1}
    ]
    facets = client.get("/api/v1/facets", params={"q": "token"}).json()
    assert facets["namespace"] == [{"value": "acme", "count": 2}]
    assert set(facets) == {"category", "abi", "filter_type", "platform", "namespace", "signed"}
    assert facets["signed"] == []  # nothing is signed here


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/plugins?per_page=0", 422),
    ("GET", "/api/v1/plugins?per_page=101", 422),
    ("GET", "/api/v1/plugins?page=0", 422),
    ("GET", "/api/v1/plugins?sort=name", 422),
    ("GET", "/api/v1/plugins?q=%00", 400),  # refused at the app's boundary (NUL)
    ("GET", "/api/v1/plugins/acme/missing", 404),
    ("GET", "/api/v1/plugins/acme/rate-limit/versions/0.0.0", 404),
    ("GET", "/api/v1/plugins/ACME/x", 422),
    ("GET", "/api/v1/nothing-here", 404),
    ("DELETE", "/api/v1/plugins", 405),
])
def test_errors_are_problem_json(
    client: TestClient, seeded: CatalogService, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:")
    assert isinstance(body["detail"], str)


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/v1/plugins" in spec["paths"]
    assert "/v1/plugins/{namespace}/{name}/star" in spec["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def test_registry_push_through_v2_shows_in_api(client: TestClient) -> None:
    from tests.catalog.publish import packed_plugin

    image = packed_plugin("hello", "0.1.0", en="Hello", zh="你好")
    repo = "/v2/team/hello"
    for blob in image.blobs():
        started = client.post(f"{repo}/blobs/uploads/?digest={blob.digest}", content=blob.data)
        assert started.status_code == 201, started.text
    pushed = client.put(
        f"{repo}/manifests/0.1.0", content=image.manifest,
        headers={"Content-Type": image.manifest_media_type},
    )
    assert pushed.status_code == 201, pushed.text
    found = client.get("/api/v1/plugins", params={"q": "你好"}).json()
    assert [(p["namespace"], p["name"]) for p in found["items"]] == [("team", "hello")]
    client.get(f"{repo}/manifests/0.1.0")
    assert client.get("/api/v1/plugins/team/hello").json()["downloads"] == 1
