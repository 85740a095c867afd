"""The artifact verbs against a real ``wasmhub serve`` (its own /v2/ registry and /api/v1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.support.servers import RunningServer, running_wasmhub

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_wasmhub(tmp_path_factory.mktemp("wasmhub") / "data") as server:
        yield server


@pytest.mark.parametrize("layout", ["compat", "oci", "cncf", "docker"])
def test_round_trip(layout: str, hub: RunningServer, tmp_path: Path) -> None:
    module = proxy_wasm_module(f"hub-{layout}")
    source = tmp_path / "m.wasm"
    source.write_bytes(module)
    target = f"{hub.host}/acme/rt-{layout}-{uuid.uuid4().hex[:6]}:1.0.0"
    digest = run_json("push", str(source), target, "--format", layout)["digest"]
    out = tmp_path / "o.wasm"
    pulled = run_json("pull", target, "-o", str(out))
    assert pulled["digest"] == digest and pulled["layout"] == layout
    assert out.read_bytes() == module


def test_tag_across_repositories_and_inspect(hub: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "t.wasm"
    source.write_bytes(proxy_wasm_module("hub-tag"))
    src = f"{hub.host}/acme/tag-src:1.0.0"
    digest = run_json("push", str(source), src)["digest"]
    result = run("tag", src, f"{hub.host}/other/tag-dst:stable")
    assert result.exit_code == 0, result.stderr
    data = run_json("inspect", f"{hub.host}/other/tag-dst:stable")
    assert data["reference"].endswith(digest)
    assert data["abi_version"] == "0.2.0"


def test_default_registry_is_the_hub(hub: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "d.wasm"
    source.write_bytes(proxy_wasm_module("hub-default"))
    env = {"WASMHUB_HUB_URL": hub.url}
    pushed = run("push", str(source), "acme/defaulted:1.0.0", "--json", env=env)
    assert pushed.exit_code == 0, pushed.stderr
    assert f"{hub.host}/acme/defaulted:1.0.0" in pushed.stdout


def test_list_uses_catalog_api(hub: RunningServer) -> None:
    data = run_json("list", "--hub", hub.url)
    assert data["kind"] == "catalog"
    assert isinstance(data["items"], list)


def test_unknown_repository(hub: RunningServer, tmp_path: Path) -> None:
    result = run("pull", f"{hub.host}/nobody/nothing:1.0.0", "-o", str(tmp_path / "x.wasm"))
    assert result.exit_code == 1
    assert one_line_error(result).startswith(f"{hub.host}/nobody/nothing:1.0.0: ")
