"""/healthz, /readyz and /metrics in process (both databases), and request ids."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.registry.conftest import Registry
from tests.support.servers import free_port
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    hub = Hub.open(settings)
    with TestClient(create_app(settings, hub)) as client:
        yield Registry(client, hub)


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_and_readyz(registry: Registry) -> None:
    assert registry.client.get("/healthz").json()["status"] == "ok"
    ready = registry.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_what_is_down(settings: Settings) -> None:
    # Redis on a port nobody listens on, and the blob volume gone.
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    hub = Hub.open(broken)
    with TestClient(create_app(broken, hub)) as client:
        shutil.rmtree(broken.data_dir / "blobs")
        response = client.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"]["ok"] is True
        assert checks["storage"]["ok"] is False and "not writable" in checks["storage"]["error"]
        assert checks["redis"]["ok"] is False and checks["redis"]["error"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_with_redis(settings: Settings) -> None:
    with_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    hub = Hub.open(with_redis)
    with TestClient(create_app(with_redis, hub)) as client:
        response = client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["redis"]["ok"] is True


def test_metrics_count_requests_bytes_events_and_pool(registry: Registry) -> None:
    before = samples(registry.client)
    payload = registry.image("m/one", b"layer for metrics")
    assert registry.put_manifest("m/one", "v1", payload).status_code == 201
    pulled = registry.client.get("/v2/m/one/manifests/v1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert pulled.status_code == 200
    layer = registry.client.get(f"/v2/m/one/blobs/{pulled.json()['layers'][0]['digest']}")
    assert layer.content == b"layer for metrics"
    assert registry.client.get("/v2/m/one/manifests/nope").status_code == 404
    after = samples(registry.client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "wasmhub_http_requests_total"
    assert delta(requests, route="v2_manifests", method="PUT", status="201") == 1
    assert delta(requests, route="v2_manifests", method="GET", status="200") == 1
    assert delta(requests, route="v2_manifests", method="GET", status="404") == 1
    assert delta(requests, route="v2_uploads", method="POST", status="201") == 2
    assert delta("wasmhub_http_request_duration_seconds_count",
                 route="v2_blobs", method="GET") == 1
    assert delta("wasmhub_http_response_bytes_total", route="v2_blobs") == len(layer.content)
    assert delta("wasmhub_event_handler_seconds_count", event="ManifestPushed") >= 1
    assert value(after, "wasmhub_uploads_in_flight") == 0
    assert value(after, "wasmhub_db_pool_connections_open") >= 1
    assert value(after, "wasmhub_db_pool_connections_in_use") >= 0
    assert any(name == "wasmhub_build_info" for name, _ in after)


def test_request_id_is_taken_or_made_and_echoed(registry: Registry) -> None:
    given = registry.client.get("/v2/", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["X-Request-ID"] == "trace-42.a"
    made = registry.client.get("/v2/")
    hostile = registry.client.get("/v2/", headers={"X-Request-ID": "x" * 500})
    assert len(made.headers["X-Request-ID"]) == 32
    assert hostile.headers["X-Request-ID"] != "x" * 500
    assert made.headers["X-Request-ID"] != hostile.headers["X-Request-ID"]
