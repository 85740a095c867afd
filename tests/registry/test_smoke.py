"""The base endpoint and the cross-cutting headers."""

from __future__ import annotations

from tests.registry.conftest import Registry, error_code


def test_base(registry: Registry) -> None:
    # The version check answers a Bearer challenge to anonymous callers (as distribution
    # with token auth does), so `docker login`-style clients know where to get a token.
    r = registry.client.get("/v2/")
    assert r.status_code == 401 and error_code(r) == "UNAUTHORIZED"
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="http://testserver/auth/token"')
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    token = registry.client.get("/auth/token", params={"service": "wasmhub"}).json()["token"]
    r = registry.client.get("/v2/", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json() == {}


def test_unknown_path_is_an_oci_error(registry: Registry) -> None:
    r = registry.client.get("/v2/foo/nothing-here")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_wrong_method_is_unsupported(registry: Registry) -> None:
    r = registry.client.post("/v2/foo/manifests/latest")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
    r = registry.client.delete("/v2/_catalog")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
