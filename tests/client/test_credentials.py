"""Docker config.json credentials: lookup order, atomic 0600 writes, credential helpers."""

from __future__ import annotations

import base64
import json
import stat
import sys
from pathlib import Path

import pytest

from wasmhub.client.credentials import (
    DOCKER_HUB_KEY,
    Credential,
    CredentialHelperError,
    DockerConfig,
    config_path,
    load_credential,
)
from wasmhub.errors import ConfigError

HELPER = """#!{python}
import json, sys, pathlib
store = pathlib.Path({store!r})
data = json.loads(store.read_text()) if store.exists() else {{}}
action = sys.argv[1]
payload = sys.stdin.read()
if action == "get":
    entry = data.get(payload.strip())
    if entry is None:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": payload.strip(), **entry}}))
elif action == "store":
    req = json.loads(payload)
    data[req["ServerURL"]] = {{"Username": req["Username"], "Secret": req["Secret"]}}
    store.write_text(json.dumps(data))
elif action == "erase":
    if data.pop(payload.strip(), None) is None:
        print("credentials not found in native keychain")
        sys.exit(1)
    store.write_text(json.dumps(data))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ``docker-credential-wasmtest`` program on PATH backed by a JSON file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    program = bindir / "docker-credential-wasmtest"
    program.write_text(HELPER.format(python=sys.executable, store=str(store)))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return store


def test_config_path_respects_docker_config(docker_config: Path) -> None:
    assert config_path() == docker_config / "config.json"


def test_store_writes_docker_format_atomically_0600(docker_config: Path) -> None:
    path = docker_config / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {"other.io": {"auth": "eDp5"}}, "psFormat": "x"}))
    config = DockerConfig()
    where = config.store("127.0.0.1:5000", Credential("alice", "pa:ss"))
    assert where == str(path)
    data = json.loads(path.read_text())
    assert data["psFormat"] == "x"  # other settings survive
    assert data["auths"]["other.io"] == {"auth": "eDp5"}
    assert base64.b64decode(data["auths"]["127.0.0.1:5000"]["auth"]) == b"alice:pa:ss"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".config.json.")]
    assert load_credential("127.0.0.1:5000") == Credential("alice", "pa:ss")
    assert DockerConfig().erase("127.0.0.1:5000")
    assert "127.0.0.1:5000" not in json.loads(path.read_text())["auths"]
    assert not DockerConfig().erase("127.0.0.1:5000")


def test_lookup_variants(docker_config: Path) -> None:
    docker_config.mkdir()
    token_auth = base64.b64encode(b"bob:pw").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {
        "https://reg.example.com/v1/": {"auth": token_auth},
        DOCKER_HUB_KEY: {"auth": base64.b64encode(b"hub:user").decode()},
        "token.example.com": {"identitytoken": "refresh-1"},
    }}))
    assert load_credential("reg.example.com") == Credential("bob", "pw")
    assert load_credential("docker.io") == Credential("hub", "user")
    assert load_credential("registry-1.docker.io") == Credential("hub", "user")
    assert load_credential("token.example.com") == Credential(identity_token="refresh-1")
    assert load_credential("unknown.example.com") is None


def test_bad_config_is_a_config_error(docker_config: Path) -> None:
    docker_config.mkdir()
    (docker_config / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        DockerConfig()


def test_credential_helper_store_get_erase(docker_config: Path, helper: Path) -> None:
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "wasmtest"}))
    config = DockerConfig()
    assert config.store("reg.example.com", Credential("carol", "pw")) == (
        "docker-credential-wasmtest")
    assert json.loads(helper.read_text())["reg.example.com"] == {
        "Username": "carol", "Secret": "pw"}
    assert load_credential("reg.example.com") == Credential("carol", "pw")
    DockerConfig().store("tok.example.com", Credential(identity_token="rt"))
    assert load_credential("tok.example.com") == Credential(identity_token="rt")
    assert DockerConfig().erase("reg.example.com")
    assert load_credential("reg.example.com") is None


def test_cred_helpers_per_registry(docker_config: Path, helper: Path) -> None:
    docker_config.mkdir()
    helper.write_text(json.dumps({"ghcr.io": {"Username": "dave", "Secret": "tok"}}))
    (docker_config / "config.json").write_text(json.dumps({
        "credHelpers": {"ghcr.io": "wasmtest"},
        "auths": {"ghcr.io": {"auth": base64.b64encode(b"ignored:x").decode()}},
    }))
    assert load_credential("ghcr.io") == Credential("dave", "tok")


def test_missing_helper_is_reported(docker_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "nosuchhelper"}))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(CredentialHelperError, match="docker-credential-nosuchhelper"):
        load_credential("reg.example.com")
