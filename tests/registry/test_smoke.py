"""The base endpoint and the cross-cutting headers."""

from __future__ import annotations

from tests.registry.conftest import Registry, error_code


def test_base(registry: Registry) -> None:
    r = registry.client.get("/v2/")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_unknown_path_is_an_oci_error(registry: Registry) -> None:
    r = registry.client.get("/v2/foo/nothing-here")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_wrong_method_is_unsupported(registry: Registry) -> None:
    r = registry.client.post("/v2/foo/manifests/latest")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
    r = registry.client.delete("/v2/_catalog")
    assert r.status_code == 405 and error_code(r) == "UNSUPPORTED"
