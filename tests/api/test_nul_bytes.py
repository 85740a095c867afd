"""A NUL byte in a path or query is refused at the boundary, on every surface.

PostgreSQL cannot store or compare text with NUL (``psycopg.DataError``), so before
this guard such a request reached the database and answered 500. Each surface answers in
its own format: the UI an HTML error page, the API problem+json, ``/v2/`` the OCI
envelope. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

WEB = [
    "/search?category=a%00",
    "/search?q=%00",
    "/namespaces/a%00b",
    "/plugins/sec/x%00",
    "/plugins/sec/x?version=1%00",
]
API = [
    "/api/v1/plugins?q=a%00",
    "/api/v1/plugins?category=a%00",
    "/api/v1/plugins/sec/x%00",
    "/api/v1/plugins/sec/x/versions/1%00",
    "/api/v1/facets?keyword=%00",
]
V2 = [
    "/v2/a%00b/tags/list",
    "/v2/a/tags/list?last=%00",
    "/v2/_catalog?last=a%00",
    "/v2/a/manifests/x%00",
    "/v2/a/blobs/sha256:%00",
    "/v2/a/referrers/sha256:" + "0" * 64 + "?artifactType=%00",
]


@pytest.mark.parametrize("path", WEB)
def test_web_refuses_nul_with_an_html_page(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert "NUL" in r.text


@pytest.mark.parametrize("path", API)
def test_api_refuses_nul_with_a_problem(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in r.json()["detail"]


@pytest.mark.parametrize("path", V2)
def test_registry_refuses_nul_in_the_oci_envelope(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400, r.text[:300]
    errors = r.json()["errors"]
    assert errors[0]["code"] in {"NAME_INVALID", "UNSUPPORTED"} and "NUL" in errors[0]["message"]
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_post_with_nul_in_the_path_is_refused_too(client: TestClient) -> None:
    assert client.post("/stars/sec/x%00", data={"starred": "true"}).status_code == 400
    assert client.put("/api/v1/plugins/sec/x%00/star").status_code == 400
