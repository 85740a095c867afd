"""``search`` and ``list``: the catalog API contract and the plain-registry fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.catalog_peer import running_catalog, summary
from tests.cli.helpers import one_line_error, run, run_json
from tests.support.servers import RunningServer, free_port
from wasmhub.client.registry import RegistryClient

pytestmark = pytest.mark.interop

PLUGINS = [summary(f"plugin-{i:03d}", f"filter number {i}") for i in range(130)] + [
    summary("rate-limit", "Token bucket rate limiting", category="security", stars=9),
    summary("add-header", "Sets request headers", stars=4),
]


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    with running_catalog(PLUGINS) as url:
        yield url


def test_search_table(catalog: str) -> None:
    result = run("search", "rate", "--hub", catalog)
    assert result.exit_code == 0, result.stderr
    assert "acme/rate-limit" in result.stdout
    assert "Token" in result.stdout
    assert "1 plugin(s) matching 'rate'" in result.stdout


def test_search_json_and_filters(catalog: str) -> None:
    data = run_json("search", "", "--hub", catalog, "--category", "security")
    assert [i["name"] for i in data["items"]] == ["rate-limit"]
    assert data["total"] == 1
    page = run_json("search", "filter", "--hub", catalog, "--per-page", "5", "--page", "2")
    assert page["page"] == 2 and len(page["items"]) == 5 and page["total"] == 130


def test_search_uses_env_hub(catalog: str) -> None:
    result = run("search", "add-header", "--json", env={"WASMHUB_HUB_URL": catalog})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["items"][0]["name"] == "add-header"


def test_search_no_match(catalog: str) -> None:
    result = run("search", "zzz-nothing", "--hub", catalog)
    assert result.exit_code == 0
    assert "no plugins match 'zzz-nothing'" in result.stdout


def test_list_catalog_pages_through_everything(catalog: str) -> None:
    data = run_json("list", "--hub", catalog)
    assert data["kind"] == "catalog"
    assert len(data["items"]) == len(PLUGINS)


def test_list_plain_registry_falls_back_to_catalog_and_tags(registry: RunningServer) -> None:
    with RegistryClient(registry.host) as client:
        from tests.client.test_registry import push_simple

        push_simple(client, "listing/one", "v1", b"a")
        push_simple(client, "listing/one", "v2", b"b")
    data = run_json("list", "--hub", registry.url)
    assert data["kind"] == "registry"
    assert {"repository": "listing/one", "tags": ["v1", "v2"]} in data["repositories"]
    table = run("list", "--hub", registry.host)  # host:port works as well as a URL
    assert table.exit_code == 0, table.stderr
    assert "listing/one" in table.stdout


def test_search_unreachable_hub() -> None:
    port = free_port()
    result = run("search", "x", "--hub", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert one_line_error(result) == (
        f"cannot reach hub at http://127.0.0.1:{port}: connection refused (start it with "
        "scripts/serve, or name the hub with --hub URL or WASMHUB_HUB_URL)")


def test_search_against_plain_registry_says_so(registry: RunningServer) -> None:
    result = run("search", "x", "--hub", registry.url)
    assert result.exit_code == 1
    assert "catalog at" in one_line_error(result)
