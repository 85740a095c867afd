"""Real clients against a real ``wasmhub serve`` with accounts (no open namespaces):
``wasmhub admin``/``login``/``org``/``token``, skopeo with ``--dest-creds``, oras-py with
a login; private repositories refuse anonymous and revoked credentials; anonymous pull of
a public plugin works both directly and through an anonymous token (Istio's fetcher).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import run
from tests.support.oci_images import make_image, write_layout
from tests.support.servers import RunningServer, running_wasmhub

pytestmark = pytest.mark.interop
PASSWORD = "correct horse battery"
SKOPEO = "/usr/bin/skopeo"


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


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    """skopeo with only the credentials on its command line: not the login that
    ``wasmhub login`` saved in DOCKER_CONFIG (skopeo would read that too)."""
    empty = Path(os.environ["DOCKER_CONFIG"]).parent / "skopeo-home"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(empty), "DOCKER_CONFIG": str(empty),
           "REGISTRY_AUTH_FILE": str(empty / "auth.json"), "XDG_RUNTIME_DIR": str(empty)}
    return subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=180,
                          env=env, check=False)


def test_private_repository_with_real_clients(server: RunningServer, tmp_path: Path) -> None:
    host = server.host
    # First-run bootstrap (README): the administrator is created on the server's machine.
    made = run("admin", "create-user", "alice", "--email", "alice@example.com", "--admin",
               "--password-stdin", input=PASSWORD + "\n")
    assert made.exit_code == 0, made.stderr
    # wasmhub login checks the password against the hub.
    wrong = run("login", host, "-u", "alice", "--password-stdin", input="not it at all\n")
    assert wrong.exit_code == 1 and "refused" in wrong.stderr
    ok = run("login", host, "-u", "alice", "--password-stdin", input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.stderr
    assert run("org", "create", "acme").exit_code == 0
    assert run("org", "visibility", "acme", "--private").exit_code == 0
    created = run("token", "create", "ci", "-s", "pull", "-s", "push", "-r", "acme", "--json")
    assert created.exit_code == 0, created.stderr
    import json

    token = json.loads(created.stdout)["token"]
    assert token.startswith("whub_")

    layout = write_layout(tmp_path / "layout", {"1.0": make_image("identity-interop")})
    src = f"oci:{layout}:1.0"
    dest = f"docker://{host}/acme/plugin:1.0"
    refused = skopeo("copy", "--dest-tls-verify=false", src, dest)
    assert refused.returncode != 0
    pushed = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"ci:{token}", src, dest)
    assert pushed.returncode == 0, pushed.stderr
    # Without credentials the private repository is not served, with them it is.
    anonymous = skopeo("inspect", "--tls-verify=false", "--raw", dest)
    assert anonymous.returncode != 0
    assert httpx.get(f"{server.url}/v2/acme/plugin/manifests/1.0").status_code == 401
    inspected = skopeo("inspect", "--tls-verify=false", "--raw", "--creds", f"ci:{token}", dest)
    assert inspected.returncode == 0, inspected.stderr
    # The token is limited to acme: it cannot push to alice's own namespace.
    elsewhere = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"ci:{token}", src,
                       f"docker://{host}/alice/plugin:1.0")
    assert elsewhere.returncode != 0

    # oras-py with a login pushes to the private repository; without one it is refused.
    import oras.client

    module = tmp_path / "plugin.wasm"
    module.write_bytes(b"\0asm\x01\0\0\0")
    os.chdir(tmp_path)
    anonymous_oras = oras.client.OrasClient(hostname=host, insecure=True)
    with pytest.raises(Exception):  # noqa: B017 (oras raises ValueError or HTTPError)
        anonymous_oras.push(f"{host}/acme/oras:1.0", files=["plugin.wasm"], quiet=True)
    logged_in = oras.client.OrasClient(hostname=host, insecure=True)
    logged_in.login(username="alice", password=token, hostname=host, tls_verify=False)
    response = logged_in.push(f"{host}/acme/oras:1.0", files=["plugin.wasm"], quiet=True)
    assert response.status_code == 201

    # wasmhub pull with the saved login works; revoking the token stops it at once.
    listed = run("token", "list", "--json")
    token_id = json.loads(listed.stdout)[0]["id"]
    assert run("token", "revoke", str(token_id)).exit_code == 0
    revoked = skopeo("inspect", "--tls-verify=false", "--raw", "--creds", f"ci:{token}", dest)
    assert revoked.returncode != 0
    audit = httpx.get(f"{server.url}/api/v1/namespaces/alice/audit",
                      params={"action": "token.use-after-revoke"}, auth=("alice", PASSWORD))
    assert audit.status_code == 200 and audit.json(), audit.text

    # Anonymous pull of a public plugin: directly, and the way Istio's fetcher does it
    # (ping, 401 challenge, anonymous token, pull).
    public = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"alice:{PASSWORD}",
                    src, f"docker://{host}/alice/public:1.0")
    assert public.returncode == 0, public.stderr
    direct = httpx.get(f"{server.url}/v2/alice/public/manifests/1.0",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert direct.status_code == 200
    ping = httpx.get(f"{server.url}/v2/")
    assert ping.status_code == 401
    challenge = ping.headers["www-authenticate"]
    realm = challenge.split('realm="', 1)[1].split('"', 1)[0]
    anon = httpx.get(realm, params={"service": "wasmhub",
                                    "scope": "repository:alice/public:pull"}).json()["token"]
    via_token = httpx.get(f"{server.url}/v2/alice/public/manifests/1.0",
                          headers={"Authorization": f"Bearer {anon}",
                                   "Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert via_token.status_code == 200
    assert skopeo("inspect", "--tls-verify=false", "--raw",
                  f"docker://{host}/alice/public:1.0").returncode == 0
