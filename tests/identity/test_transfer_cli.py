"""``wasmhub plugin transfer`` against a real ``wasmhub serve`` with accounts: the owner
of both namespaces moves a pushed plugin; a destination she does not own is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import run
from tests.client.fixtures import proxy_wasm_module
from tests.support.servers import RunningServer, running_wasmhub

pytestmark = pytest.mark.interop
PASSWORD = "correct horse battery"


@pytest.fixture
def server(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[RunningServer]:
    data = tmp_path / "data"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("WASMHUB_DATA_DIR", str(data))
    monkeypatch.setenv("WASMHUB_DATABASE_URL", database_url)
    with running_wasmhub(data, database_url,
                         extra_env={"WASMHUB_OPEN_NAMESPACES": "false"}) as server:
        monkeypatch.setenv("WASMHUB_HUB_URL", server.url)
        yield server


def test_plugin_transfer_verb(server: RunningServer, tmp_path: Path) -> None:
    host = server.host
    for user in ("alice", "bob"):
        made = run("admin", "create-user", user, "--email", f"{user}@example.com",
                   "--password-stdin", input=PASSWORD + "\n")
        assert made.exit_code == 0, made.stderr
    ok = run("login", host, "-u", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.stderr
    assert run("org", "create", "acme").exit_code == 0
    module = tmp_path / "moving.wasm"
    module.write_bytes(proxy_wasm_module("transfer-cli"))
    pushed = run("push", str(module), f"{host}/acme/moving:1.0")
    assert pushed.exit_code == 0, pushed.stderr

    refused = run("plugin", "transfer", "acme/moving", "--to", "bob")
    assert refused.exit_code == 1 and "bob" in refused.stderr
    bad = run("plugin", "transfer", "acme-moving", "--to", "alice")
    assert bad.exit_code != 0
    assert httpx.get(f"{server.url}/v2/acme/moving/tags/list").json()["tags"] == ["1.0"]

    moved = run("plugin", "transfer", "acme/moving", "--to", "alice")
    assert moved.exit_code == 0, moved.stderr
    assert "moved acme/moving to alice/moving" in moved.stdout
    assert httpx.get(f"{server.url}/v2/alice/moving/tags/list").json()["tags"] == ["1.0"]
    assert httpx.get(f"{server.url}/v2/acme/moving/tags/list").status_code == 401
