"""A wasmhub served on a free loopback port (in a thread, both database backends), an
isolated key store and Docker config, and helpers to publish and sign plugins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.helpers import run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.support.servers import serving_in_thread
from wasmhub.app import create_app
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.signing.trust import TrustService

PASSPHRASE = "correct horse battery staple"


@dataclass
class ServedHub:
    url: str
    hub: Hub

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def trust(self) -> TrustService:
        return TrustService(self.hub)


@pytest.fixture
def served(settings: Settings) -> Iterator[ServedHub]:
    app = create_app(settings)
    hub: Hub = app.state.hub
    try:
        with serving_in_thread(app, "signing-hub") as url:
            yield ServedHub(url, hub)
    finally:
        hub.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private key store, passphrase and Docker config for every test."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("WASMHUB_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("WASMHUB_KEY_PASSPHRASE", PASSPHRASE)
    return tmp_path / "keys"


def generate_key(name: str) -> Path:
    """A key pair in the store via the CLI; returns the public key path."""
    data = run_json("key", "generate", name)
    return Path(data["public_key"])


@dataclass
class Published:
    ref: str  # host/repo:tag
    repository: str
    digest: str
    module: bytes

    @property
    def by_digest(self) -> str:
        return self.ref.rsplit(":", 1)[0] + "@" + self.digest


def publish(host: str, tmp_path: Path, namespace: str = "acme", name: str | None = None,
            tag: str = "1.0.0", marker: str | None = None) -> Published:
    name = name or f"filter-{uuid.uuid4().hex[:8]}"
    module = proxy_wasm_module(marker or name)
    source = tmp_path / f"{name}.wasm"
    source.write_bytes(module)
    ref = f"{host}/{namespace}/{name}:{tag}"
    digest = run_json("push", str(source), ref)["digest"]
    return Published(ref, f"{namespace}/{name}", digest, module)


def sign(ref: str, key: str, *extra: str) -> dict[str, object]:
    result = run("sign", ref, "--key", key, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    import json

    data: dict[str, object] = json.loads(result.stdout)
    return data


def admin(served: ServedHub, *args: str) -> str:
    settings = served.hub.settings
    env = {"WASMHUB_DATA_DIR": str(settings.data_dir),
           "WASMHUB_DATABASE_URL": settings.effective_database_url}
    result = run("trust", *args, "--actor", "ops@acme", env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def acme_policy_with_one_signed_plugin(served: ServedHub, tmp_path: Path, mode: str
                                       ) -> tuple[Published, Published]:
    """Namespace acme with key "release" trusted under ``mode``, and two plugins pushed
    there: (unsigned, signed by release)."""
    public = generate_key("release")
    admin(served, "key", "add", "acme", str(public), "--name", "release")
    admin(served, "policy", "set", mode, "--namespace", "acme")
    unsigned = publish(served.host, tmp_path)
    signed = publish(served.host, tmp_path)
    sign(signed.ref, "release")
    return unsigned, signed
