"""``wasmhub login``/``logout`` against real auth-requiring registries on loopback."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from tests.cli.helpers import one_line_error, run
from tests.client.authproxy import AuthProxy
from tests.support.servers import free_port
from wasmhub.client.registry import RegistryClient

pytestmark = pytest.mark.interop


def config(docker_config: Path) -> dict[str, object]:
    data = json.loads((docker_config / "config.json").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_login_writes_docker_config_and_logout_removes(
    mode: str, basic_proxy: AuthProxy, bearer_proxy: AuthProxy, docker_config: Path
) -> None:
    proxy = basic_proxy if mode == "basic" else bearer_proxy
    result = run("login", proxy.host, "-u", proxy.username, "--password-stdin",
                 input=proxy.password + "\n")
    assert result.exit_code == 0, result.stderr
    assert f"Login succeeded for alice at {proxy.host}" in result.stdout
    path = docker_config / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auth = config(docker_config)["auths"][proxy.host]["auth"]  # type: ignore[index]
    assert base64.b64decode(auth) == b"alice:s3cret"
    # the saved credentials are what later commands use
    with RegistryClient(proxy.host) as client:
        client.upload_blob("login/check", b"after login")

    result = run("logout", proxy.host)
    assert result.exit_code == 0
    assert f"Removed credentials for {proxy.host}" in result.stdout
    assert proxy.host not in config(docker_config)["auths"]  # type: ignore[operator]
    assert "Not logged in" in run("logout", proxy.host).stdout


def test_login_with_password_flag_warns(basic_proxy: AuthProxy, docker_config: Path) -> None:
    result = run("login", f"http://{basic_proxy.host}", "-u", "alice", "-p", "s3cret")
    assert result.exit_code == 0, result.stderr
    assert "--password-stdin" in result.stderr
    assert basic_proxy.host in config(docker_config)["auths"]  # type: ignore[operator]


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_login_bad_credentials(mode: str, basic_proxy: AuthProxy, bearer_proxy: AuthProxy,
                               docker_config: Path) -> None:
    proxy = basic_proxy if mode == "basic" else bearer_proxy
    result = run("login", proxy.host, "-u", "alice", "--password-stdin", input="wrong\n")
    assert result.exit_code == 1
    message = one_line_error(result)
    assert message.startswith(f"login to {proxy.host} failed: the registry refused 'alice'")
    assert not (docker_config / "config.json").exists()


def test_login_unreachable(docker_config: Path) -> None:
    port = free_port()
    result = run("login", f"127.0.0.1:{port}", "-u", "a", "--password-stdin", input="b\n")
    assert result.exit_code == 1
    assert one_line_error(result) == (
        f"cannot reach registry at 127.0.0.1:{port}: connection refused")


def test_login_usage_errors() -> None:
    result = run("login", "127.0.0.1:5000", "--password-stdin", input="x\n")
    assert result.exit_code == 2
    assert "--password-stdin needs --username" in one_line_error(result)
