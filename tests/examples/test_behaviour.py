"""The sample plugins do what their READMEs say, run on the local proxy-wasm host
(``wasmhub.runtime.Plugin``) from the modules built in this session.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from wasmhub.build import BuildResult
from wasmhub.runtime import HostConfig, HttpRequest, HttpResult, Plugin, UpstreamResponse

pytestmark = pytest.mark.slow


def _plugin(built: dict[str, BuildResult], name: str, root_id: str, config: Any) -> Plugin:
    host = HostConfig(plugin_config=json.dumps(config).encode(), root_id=root_id)
    return Plugin(built[name].output, host)


def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in pairs}


def _send(plugin: Plugin, headers: dict[str, str], upstream: UpstreamResponse | None = None
          ) -> HttpResult:
    result = plugin.http(HttpRequest(headers=list(headers.items())),
                         upstream or UpstreamResponse(body=b"ok"))
    assert result.failure is None, result.failure
    return result


def test_add_header_edits_both_directions(built_examples: dict[str, BuildResult]) -> None:
    plugin = _plugin(built_examples, "add-header", "add_header", {
        "request_headers_to_add": {"x-hello": "world"}, "request_headers_to_remove": ["x-debug"],
        "response_headers_to_add": {"x-powered-by": "wasmhub"},
        "response_headers_to_remove": ["server"],
    })
    result = _send(plugin, {"x-debug": "1", "x-hello": "spoof"},
                   UpstreamResponse(headers=[("server", "up")], body=b"hi"))
    assert result.upstream_request is not None
    upstream = result.upstream_request.headers
    assert [v for k, v in upstream if k == "x-hello"] == ["world"]
    assert "x-debug" not in _headers(upstream)
    assert _headers(result.headers).get("x-powered-by") == "wasmhub"
    assert "server" not in _headers(result.headers)


def test_add_header_rejects_a_bad_configuration(built_examples: dict[str, BuildResult]) -> None:
    from wasmhub.runtime import PluginStartError

    with pytest.raises(PluginStartError):
        _plugin(built_examples, "add-header", "add_header", {"request_headers_to_add": {"x-n": 1}})


def test_auth_tenant_maps_keys_to_tenants(built_examples: dict[str, BuildResult]) -> None:
    plugin = _plugin(built_examples, "auth-tenant", "auth_tenant", {
        "keys": {"k1": {"tenant": "acme", "plan": "pro"}, "k2": "globex"},
        "default_plan": "free",
    })
    for key, tenant, plan in (("k1", "acme", "pro"), ("k2", "globex", "free"),
                              ("k2", "globex", "free")):
        result = _send(plugin, {"x-api-key": key, "x-tenant": "spoofed"})
        assert result.status == 200 and result.upstream_request is not None
        upstream = _headers(result.upstream_request.headers)
        assert (upstream["x-tenant"], upstream["x-plan"]) == (tenant, plan)
        assert "x-api-key" not in upstream

    for headers, reason in (({}, "missing API key"), ({"x-api-key": "nope"}, "unknown API key")):
        denied = _send(plugin, headers)
        assert denied.status == 401 and denied.upstream_request is None
        assert reason in denied.body.decode()
    assert plugin.metrics["auth_tenant_allowed_total"] == 3
    assert plugin.metrics["auth_tenant_denied_total"] == 2


def test_rate_limit_by_plan_with_window_reset(built_examples: dict[str, BuildResult]) -> None:
    plugin = _plugin(built_examples, "rate-limit", "rate_limit", {
        "users": {"alice": "pro"}, "plans": {"free": 3, "pro": 5}, "window_seconds": 60,
    })
    statuses = [_send(plugin, {"x-user": "bob"}).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = _send(plugin, {"x-user": "bob"})
    headers = _headers(limited.headers)
    assert headers["x-rate-limit-limit"] == "3" and headers["x-rate-limit-remaining"] == "0"
    assert 1 <= int(headers["x-rate-limit-reset"]) <= 60
    assert limited.upstream_request is None

    alice = [_send(plugin, {"x-user": "alice"}) for _ in range(5)]
    assert [r.status for r in alice] == [200] * 5
    assert _headers(alice[-1].headers)["x-rate-limit-remaining"] == "0"

    windows_before = plugin.metrics["rate_limit_windows_total"]
    plugin.advance(60_000)
    assert plugin.metrics["rate_limit_windows_total"] == windows_before + 1  # the tick saw it
    again = _send(plugin, {"x-user": "bob"})
    assert again.status == 200
    assert _headers(again.headers)["x-rate-limit-remaining"] == "2"


def test_data_mask_rewrites_buffered_bodies(built_examples: dict[str, BuildResult]) -> None:
    plugin = _plugin(built_examples, "data-mask", "data_mask", {"keep_last": 4})
    body = b'{"card": "4111-1111-1111-1111", "mail": "ann@example.org", "id": 1234567890123456}'
    result = plugin.http(HttpRequest(), UpstreamResponse(
        headers=[("content-type", "application/json")],
        body_chunks=[body[:20], body[20:50], body[50:]],
    ))
    assert result.failure is None
    assert result.body == (
        b'{"card": "****-****-****-1111", "mail": "a**@example.org", "id": 1234567890123456}'
    )
    assert plugin.metrics["data_mask_masked_total"] == 2


def test_c_sample_sets_configured_headers(built_examples: dict[str, BuildResult]) -> None:
    plugin = _plugin(built_examples, "c-add-header", "", {"X-From-C": "yes"})
    result = _send(plugin, {"x-c-filter-debug": "1"})
    assert result.upstream_request is not None
    upstream = _headers(result.upstream_request.headers)
    assert upstream["x-from-c"] == "yes" and "x-c-filter-debug" not in upstream
    assert _headers(result.headers)["x-from-c"] == "yes"


@pytest.mark.parametrize("name", ["add-header", "auth-tenant", "rate-limit", "data-mask",
                                  "c-add-header"])
def test_sample_tests_yaml_passes_in_the_harness(
    built_examples: dict[str, BuildResult], name: str
) -> None:
    from tests.examples.conftest import EXAMPLES
    from wasmhub.runtime.harness import Harness

    harness = Harness.from_file(EXAMPLES / name / "tests.yaml", module=built_examples[name].output)
    suite = harness.run()
    problems = [f"{case.name}: {case.error or ''} "
                + "; ".join(m.render() for m in case.mismatches)
                for case in suite.cases if not case.passed]
    assert suite.passed, suite.error or "\n".join(problems)
    assert len(suite.cases) >= 2
