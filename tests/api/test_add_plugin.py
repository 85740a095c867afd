"""POST /api/v1/plugins (add by URL) through the API: created, refused, problem+json."""

from __future__ import annotations

from starlette.testclient import TestClient

USER = {"X-Wasmhub-User": "ann"}


def body(url: str, **extra: object) -> dict[str, object]:
    return {"url": url, "display_name": {"en": "Hello API", "zh": "你好"},
            "description": {"en": "Added over the API"}, **extra}


def test_add_by_url_creates_the_plugin(client: TestClient, web: str) -> None:
    response = client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm"), headers=USER)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["namespace"], created["name"]) == ("library", "hello-api")
    assert response.headers["location"] == "/api/v1/plugins/library/hello-api"
    assert client.get(response.headers["location"]).json()["display_name"]["zh"] == "你好"
    again = client.post("/api/v1/plugins", json=body(f"{web}/plugin.wasm"), headers=USER)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


def test_add_by_url_refusals(client: TestClient, web: str) -> None:
    cases = [
        (body(f"{web}/notes.txt"), 400, "not a WebAssembly module"),
        (body(f"{web}/plain.wasm"), 400, "proxy_abi_version"),
        (body(f"{web}/missing.wasm"), 502, "HTTP 404"),
        (body(f"{web}/to-metadata"), 400, "169.254.169.254"),
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
