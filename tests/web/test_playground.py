"""The playground in-process (both database backends): the service on real published
images, the page (no-JS and fragment) and the API endpoint, limits and bad input."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from starlette.testclient import TestClient

from tests.web.playground_support import (
    RATE_LIMIT_CONFIG,
    publish_rate_limit,
    publish_spinner,
    rate_limit_wasm,
)
from wasmhub.app import create_app
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub
from wasmhub.playground import PlaygroundBusyError, PlaygroundInputError
from wasmhub.settings import Settings
from wasmhub.web.plugin_page import ConfigState, initial_form_data

__all__ = ["rate_limit_wasm"]  # fixture
API = "/api/v1/plugins/library/rate-limit/versions/0.1.0/playground"


def test_service_runs_the_rate_limit_sample_until_429(hub: Hub, rate_limit_wasm: bytes) -> None:
    publish_rate_limit(hub, rate_limit_wasm)
    version = CatalogService(hub).get_version("library", "rate-limit", "0.1.0")
    service = hub.playground
    run = service.build_request(headers="x-user: bob", config=RATE_LIMIT_CONFIG, repeat=3)
    outcome = asyncio.run(service.run(version, run))
    assert outcome.started and outcome.statuses == [200, 200, 429]
    result = outcome.result
    assert result is not None and result.upstream_request is None
    assert result.header("x-rate-limit-limit") == "2"
    assert b"rate limited" in result.body
    assert outcome.host_calls > 0 and outcome.guest_calls > 0

    one = asyncio.run(service.run(version, service.build_request(
        headers="x-user: bob", config=RATE_LIMIT_CONFIG)))
    assert one.statuses == [200]  # every run gets a fresh VM
    assert one.result is not None and one.result.upstream_request is not None
    assert ("x-user", "bob") in one.result.upstream_request.headers


def test_service_stops_a_module_that_loops_forever(hub: Hub) -> None:
    publish_spinner(hub)
    version = CatalogService(hub).get_version("library", "spinner", "1.0.0")
    outcome = asyncio.run(hub.playground.run(version, hub.playground.build_request()))
    assert outcome.started
    assert "proxy_on_request_headers was stopped" in outcome.stopped_by_limit
    assert "CPU limit" in outcome.stopped_by_limit
    assert outcome.result is not None and outcome.result.status == 503


@pytest.mark.parametrize(("fields", "problem"), [
    ({"config_text": "{not json"}, "not valid JSON"),
    ({"body": "x" * (64 * 1024 + 1)}, "larger than the playground's limit"),
    ({"repeat": 0}, "repeat must be a whole number from 1"),
    ({"method": "BREW"}, "method must be one of"),
    ({"path": "relative"}, "path must start with /"),
    ({"headers": "no colon here"}, "headers line 1"),
    ({"http_calls": "[{\"status\": 200}]"}, "'cluster' string"),
])
def test_bad_input_is_a_typed_error(hub: Hub, fields: dict[str, object], problem: str) -> None:
    with pytest.raises(PlaygroundInputError, match=re.escape(problem)):
        hub.playground.build_request(**fields)  # type: ignore[arg-type]


def test_concurrency_cap_refuses_extra_runs(hub: Hub) -> None:
    publish_spinner(hub)
    version = CatalogService(hub).get_version("library", "spinner", "1.0.0")
    service = hub.playground

    async def many() -> list[object]:
        runs = [service.run(version, service.build_request())
                for _ in range(service.max_concurrent + 1)]
        return list(await asyncio.gather(*runs, return_exceptions=True))

    outcomes = asyncio.run(many())
    busy = [o for o in outcomes if isinstance(o, PlaygroundBusyError)]
    assert len(busy) == 1 and "busy" in busy[0].message
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == service.max_concurrent


def test_page_form_and_fragment(client: TestClient, rate_limit_wasm: bytes) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    publish_rate_limit(hub, rate_limit_wasm)
    plugin = client.get("/plugins/library/rate-limit")
    assert 'href="/playground/library/rate-limit?version=0.1.0"' in plugin.text
    page = client.get("/playground/library/rate-limit")
    assert page.status_code == 200
    assert 'name="cfg/plans/free"' in page.text or 'name="cfg/default_plan"' in page.text
    assert "<script>" not in page.text and "onclick" not in page.text
    version = CatalogService(hub).get_version("library", "rate-limit", "0.1.0")
    config_form = ConfigState(hub.schema_evaluator, version).form
    assert config_form is not None
    prefilled = {k: v[-1] for k, v in initial_form_data(config_form).items()}
    assert prefilled["cfg/default_plan"] == "free"  # the schema form, from the example
    form = {"method": "GET", "path": "/", "headers": "x-user: dan", "body": "",
            "repeat": "4", "upstream_status": "200", "http_calls": "", **prefilled}
    done = client.post("/playground/library/rate-limit?version=0.1.0", data=form,
                       headers={"X-Playground": "fragment"})
    assert done.status_code == 200, done.text
    assert 'data-playground-result' in done.text and "<html" not in done.text
    assert 'data-status="429"' in done.text
    assert "answered by the plugin" in done.text
    full = client.post("/playground/library/rate-limit", data={**form, "repeat": "1"})
    assert full.status_code == 200 and 'data-status="200"' in full.text
    assert "passed to the upstream" in full.text and "x-user" in full.text
    unknown = client.get("/playground/library/rate-limit?version=9.9.9")
    assert unknown.status_code == 404 and "9.9.9" in unknown.text
    bad = client.post("/playground/library/rate-limit", data={**form, "repeat": "x"})
    assert bad.status_code == 400 and "repeat must be a whole number" in bad.text


def test_page_in_chinese(client: TestClient, rate_limit_wasm: bytes) -> None:
    publish_rate_limit(client.app.state.hub, rate_limit_wasm)  # type: ignore[attr-defined]
    page = client.get("/playground/library/rate-limit?lang=zh")
    assert "试运行" in page.text and "请求" in page.text


def test_api_runs_and_maps_errors(client: TestClient, rate_limit_wasm: bytes) -> None:
    publish_rate_limit(client.app.state.hub, rate_limit_wasm)  # type: ignore[attr-defined]
    body = {"headers": [["x-user", "eve"]], "config": RATE_LIMIT_CONFIG, "repeat": 3}
    response = client.post(API, json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["statuses"] == [200, 200, 429]
    assert data["result"]["reached_upstream"] is False
    assert any("rate" in e["message"].lower() for e in data["logs"]) or data["host_calls"] > 0
    missing = client.post(API.replace("0.1.0", "9.9.9"), json=body)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    too_big = client.post(API, json={**body, "body": "x" * (64 * 1024 + 1)})
    assert too_big.status_code == 400 and "limit" in too_big.json()["detail"]
    bad_calls = client.post(API, json={**body, "http_calls": [{"status": 200}]})
    assert bad_calls.status_code == 400


def test_disabled_playground(settings: Settings, rate_limit_wasm: bytes) -> None:
    off = settings.model_copy(update={"playground_enabled": False})
    with TestClient(create_app(off), raise_server_exceptions=False) as client:
        publish_rate_limit(client.app.state.hub, rate_limit_wasm)  # type: ignore[attr-defined]
        assert "playground-link" not in client.get("/plugins/library/rate-limit").text
        assert client.get("/playground/library/rate-limit").status_code == 403
        refused = client.post(API, json={})
        assert refused.status_code == 403 and "disabled" in json.dumps(refused.json())


def test_the_run_budget_stops_a_loop_below_the_callback_limit(settings: Settings) -> None:
    slow = settings.model_copy(update={"playground_callback_ms": 10_000.0,
                                       "playground_run_seconds": 0.2})
    hub = Hub.open(slow)
    try:
        publish_spinner(hub)
        version = CatalogService(hub).get_version("library", "spinner", "1.0.0")
        outcome = asyncio.run(hub.playground.run(version, hub.playground.build_request()))
        assert "proxy_on_request_headers was stopped" in outcome.stopped_by_limit
        assert "0.2 s per run" in outcome.stopped_by_limit
    finally:
        hub.close()
