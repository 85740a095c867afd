"""The whole plugin workflow, end to end, through the real ``wasmhub`` executable.

What a plugin author does, in order, each step a subprocess of ``.venv/bin/wasmhub`` (no
CliRunner, no in-process shortcuts):

1. ``wasmhub init <dir> --language assemblyscript`` writes the sample project (a filter
   that sets the configured response header, ``plugin.yaml``, ``tests.yaml``).
2. ``wasmhub build <dir>`` compiles it with the real npm/asc toolchain. To stay fast the
   project gets a copy of ``examples/node_modules`` (same pins: assemblyscript 0.17.14,
   @solo-io/proxy-runtime 0.1.8) when it is installed, so the build goes straight to asc;
   without it the build runs ``npm install`` itself. The build happens once per module.
3. ``wasmhub inspect <module> --json`` reports a proxy-wasm ABI 0.2.0 http filter and
   ``wasmhub test <dir>/tests.yaml`` passes against the built module.
4. For each image layout (``compat``, ``oci``, ``cncf``, ``docker``): ``wasmhub push
   <dir> HOST/e2e/<layout>:1.0.0 --format <layout>`` then ``wasmhub pull <ref> -o`` gives
   back the module byte for byte; ``wasmhub inspect <ref>`` reads the pushed image; and
   ``wasmhub run`` sends one request through the pulled module and prints the header the
   filter added. The registries are a real ``wasmhub serve`` (on SQLite and on PostgreSQL,
   via the ``database_url`` fixture) and the CNCF distribution registry.
5. On wasmhub, the push of the compat layout is indexed by the registry hook: the catalog
   API (``GET /api/v1/plugins/e2e/compat``) shows the plugin with ABI 0.2.0.

Client commands run with an empty ``DOCKER_CONFIG`` and without ``WASMHUB_*`` variables,
so the caller's credentials and hub settings never leak in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import running_distribution, running_wasmhub

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (scripts/bootstrap)"),
]

REPO = Path(__file__).resolve().parents[2]
WASMHUB = REPO / ".venv" / "bin" / "wasmhub"
EXAMPLES_NODE_MODULES = REPO / "examples" / "node_modules"
LAYOUTS = ("compat", "oci", "cncf", "docker")
PLUGIN_NAME = "hello-e2e"
PLUGIN_CONFIG = '{"header": "x-hello", "value": "world"}'


@dataclass(frozen=True)
class Wasmhub:
    """Runs the installed ``wasmhub`` executable in a fixed directory and environment."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(WASMHUB), *args], cwd=self.cwd, env=self.env, capture_output=True,
            text=True, check=False, timeout=600,
        )
        assert result.returncode == expect, (
            f"wasmhub {' '.join(args)} exited {result.returncode}, expected {expect}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@dataclass(frozen=True)
class Built:
    project: Path
    module: Path
    sha256: str
    stdout: str


@pytest.fixture(scope="module")
def wasmhub(tmp_path_factory: pytest.TempPathFactory) -> Wasmhub:
    if not WASMHUB.is_file():
        pytest.fail(f"{WASMHUB} is missing: install the project into .venv (scripts/bootstrap)")
    home = tmp_path_factory.mktemp("e2e-client")
    (home / "docker").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WASMHUB_")}
    env.update({"DOCKER_CONFIG": str(home / "docker"), "COLUMNS": "200", "NO_COLOR": "1"})
    work = home / "cwd"
    work.mkdir()
    return Wasmhub(work, env)


@pytest.fixture(scope="module")
def built(wasmhub: Wasmhub, tmp_path_factory: pytest.TempPathFactory) -> Built:
    project = tmp_path_factory.mktemp("e2e-project") / PLUGIN_NAME
    init = wasmhub("init", str(project), "--language", "assemblyscript")
    assert "created" in init.stdout
    for name in ("package.json", "assembly/index.ts", "plugin.yaml", "tests.yaml"):
        assert (project / name).is_file(), name
    if (EXAMPLES_NODE_MODULES / ".bin" / "asc").exists():
        shutil.copytree(EXAMPLES_NODE_MODULES, project / "node_modules", symlinks=True)
    build = wasmhub("build", str(project))
    assert "compile with asc" in build.stderr
    module = project / "build" / "plugin.wasm"
    assert module.is_file()
    return Built(project, module, hashlib.sha256(module.read_bytes()).hexdigest(), build.stdout)


def test_built_module_is_an_abi_0_2_0_http_filter_and_its_tests_pass(
    built: Built, wasmhub: Wasmhub
) -> None:
    assert "0.2.0" in built.stdout and "http" in built.stdout
    report = wasmhub.json("inspect", str(built.module))
    assert report["is_proxy_wasm"] is True
    assert report["abi_version"] == "0.2.0"
    assert report["abi_marker"] == "proxy_abi_version_0_2_0"
    assert report["filter_types"] == ["http"]
    assert (report["language"], report["sdk"]) == ("assemblyscript", "solo-io/proxy-runtime")
    assert {"proxy_on_configure", "proxy_on_response_headers"} <= set(report["callbacks"])
    assert report["size"] == built.module.stat().st_size
    assert report["sha256"] == built.sha256

    tested = wasmhub("test", str(built.project / "tests.yaml"))
    assert "PASS sets the configured response header" in tested.stdout
    assert "1/1 cases passed (ABI 0.2.0)" in tested.stdout


def _push_and_pull_every_layout(
    wasmhub: Wasmhub, host: str, built: Built, out_dir: Path
) -> dict[str, str]:
    """Pushes the project in each layout and pulls it back; returns layout -> digest."""
    module = built.module.read_bytes()
    digests: dict[str, str] = {}
    for layout in LAYOUTS:
        ref = f"{host}/e2e/{layout}:1.0.0"
        pushed = wasmhub.json("push", str(built.project), ref, "--format", layout)
        assert pushed["reference"] == ref and pushed["layout"] == layout
        assert pushed["digest"].startswith("sha256:")
        if layout == "compat":
            assert "plugin.yaml" in pushed["files"]
        else:
            assert pushed["files"] == []

        out = out_dir / f"{layout}.wasm"
        pulled = wasmhub.json("pull", ref, "-o", str(out))
        assert pulled["digest"] == pushed["digest"], layout
        assert pulled["layout"] == layout
        assert pulled["module_digest"] == f"sha256:{built.sha256}"
        assert out.read_bytes() == module, f"{layout}: pulled module differs from the build"

        inspected = wasmhub.json("inspect", ref)
        assert inspected["reference"] == f"{ref}@{pushed['digest']}"
        assert inspected["layout"] == layout
        assert inspected["abi_version"] == "0.2.0"
        assert inspected["filter_types"] == ["http"]
        assert inspected["sha256"] == built.sha256
        digests[layout] = pushed["digest"]
    return digests


def _run_one_request(wasmhub: Wasmhub, module: Path) -> None:
    """``wasmhub run`` through a pulled module shows the header the filter set."""
    result = wasmhub("run", str(module), "--config", PLUGIN_CONFIG)
    client_part = result.stdout.split("Client got 200", 1)
    assert len(client_part) == 2, result.stdout
    response_lines = client_part[1].split("Logs", 1)[0].split()
    assert "x-hello" in response_lines and "world" in response_lines, result.stdout

    as_json = wasmhub.json("run", str(module), "--config", PLUGIN_CONFIG)
    assert as_json["abi"] == "0.2.0" and as_json["status"] == 200
    assert ["x-hello", "world"] in as_json["headers"]
    assert as_json["failure"] is None


def test_every_layout_through_wasmhub_serve(
    database_url: str, built: Built, wasmhub: Wasmhub, tmp_path: Path
) -> None:
    with running_wasmhub(tmp_path / "data", database_url) as server:
        digests = _push_and_pull_every_layout(wasmhub, server.host, built, tmp_path)
        _run_one_request(wasmhub, tmp_path / "compat.wasm")

        answer = httpx.get(f"{server.url}/api/v1/plugins/e2e/compat", timeout=30)
        assert answer.status_code == 200, answer.text
        plugin = answer.json()
        assert plugin["namespace"] == "e2e" and plugin["name"] == "compat"
        assert plugin["abi_version"] == "0.2.0"
        assert plugin["filter_types"] == ["http"]
        assert plugin["latest_version"] == "1.0.0"
        assert plugin["display_name"]["en"] == PLUGIN_NAME
        versions = {v["tag"]: v for v in plugin["versions"]}
        assert versions["1.0.0"]["digest"] == digests["compat"]
        assert versions["1.0.0"]["layout"] == "compat"
        assert versions["1.0.0"]["abi_version"] == "0.2.0"


def test_every_layout_through_the_cncf_distribution_registry(
    built: Built, wasmhub: Wasmhub, tmp_path: Path
) -> None:
    with running_distribution(tmp_path / "registry") as server:
        _push_and_pull_every_layout(wasmhub, server.host, built, tmp_path)
        _run_one_request(wasmhub, tmp_path / "docker.wasm")

