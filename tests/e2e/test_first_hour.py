"""A new user's first hour, through the real ``wasmhub`` executable (issue 9).

One plugin project is built once (``wasmhub init`` + ``wasmhub build``) and published to a
real ``wasmhub serve``; each test then does what a newcomer does and checks what they
see: files on disk, exit codes, the lines printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cli import Cli, clean_env, give_toolchain, sha256
from tests.support.servers import RunningServer, free_port, running_wasmhub

pytestmark = [
    pytest.mark.timeout(1800),  # builds with npm/asc on a busy machine
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (scripts/bootstrap)"),
]


@dataclass(frozen=True)
class Setup:
    cli: Cli
    project: Path
    module: Path
    server: RunningServer
    data_dir: Path

    def ref(self, repo: str, tag: str | None = "1.0.0") -> str:
        return f"{self.server.host}/{repo}" + (f":{tag}" if tag else "")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("first-hour")
    cli = Cli(home, clean_env(home))
    project = home / "hello"
    cli("init", str(project))
    give_toolchain(project)
    cli("build", str(project))
    data_dir = home / "hub-data"
    with running_wasmhub(data_dir) as server:
        yield Setup(cli, project, project / "build" / "plugin.wasm", server, data_dir)


def _consumer(setup: Setup, tmp_path: Path) -> Path:
    """Another plugin project, with its own plugin.yaml and README.md."""
    consumer = tmp_path / "consumer"
    setup.cli("init", str(consumer))
    return consumer


def test_pull_into_a_project_writes_a_directory_and_never_clobbers(
    setup: Setup, tmp_path: Path
) -> None:
    ref = setup.ref("first/hello")
    setup.cli("push", str(setup.project), ref)
    consumer = _consumer(setup, tmp_path)
    own = {name: (consumer / name).read_bytes() for name in ("plugin.yaml", "README.md")}
    cli = setup.cli.at(consumer)

    pulled = cli("pull", ref, "-o", "vendor/", "--all")
    assert (consumer / "vendor").is_dir()
    assert sha256(consumer / "vendor" / "hello.wasm") == sha256(setup.module)
    assert (consumer / "vendor" / "plugin.yaml").read_bytes() == (
        setup.project / "plugin.yaml").read_bytes()
    assert f"wrote vendor/hello.wasm  (module, {setup.module.stat().st_size} bytes)" in (
        pulled.stdout)
    assert "wrote vendor/plugin.yaml  (plugin.yaml," in pulled.stdout
    assert {name: (consumer / name).read_bytes() for name in own} == own

    # vendor now exists: without the slash it still means the directory
    again = cli("pull", ref, "-o", "vendor", "--all")
    assert "kept  vendor/hello.wasm" in again.stdout

    # into the project itself: its plugin.yaml and README.md differ, so nothing is written
    refused = cli("pull", ref, "--all", expect=1)
    assert "not overwriting plugin.yaml, README.md" in refused.stderr
    assert "--force" in refused.stderr
    assert not (consumer / "hello.wasm").exists()
    assert {name: (consumer / name).read_bytes() for name in own} == own

    forced = cli("pull", ref, "--all", "--force")
    assert "wrote plugin.yaml" in forced.stdout
    assert (consumer / "hello.wasm").is_file()
    assert (consumer / "plugin.yaml").read_bytes() != own["plugin.yaml"]

    # -o FILE names the module; an existing different file is refused there too
    (consumer / "mine.wasm").write_bytes(b"not yours")
    cli("pull", ref, "-o", "mine.wasm", expect=1)
    assert (consumer / "mine.wasm").read_bytes() == b"not yours"
    cli("pull", ref, "-o", "filters/x.wasm")
    assert sha256(consumer / "filters" / "x.wasm") == sha256(setup.module)


def test_pull_without_a_tag_takes_the_newest_version_and_missing_tags_list_the_others(
    setup: Setup, tmp_path: Path
) -> None:
    for tag in ("0.9.0", "1.10.0", "1.2.0"):
        setup.cli("push", str(setup.project), setup.ref("first/versions", tag))
    cli = setup.cli.at(tmp_path)
    newest = cli("pull", setup.ref("first/versions", None))
    assert "no tag given: using the newest version, 1.10.0" in newest.stderr
    assert f"pulled {setup.ref('first/versions', '1.10.0')}@sha256:" in newest.stdout

    missing = cli("pull", setup.ref("first/versions", "2.0.0"), expect=1)
    assert missing.stderr.strip() == (
        f"error: {setup.ref('first/versions', '2.0.0')}: no such tag; first/versions has "
        "0.9.0, 1.2.0, 1.10.0")
    assert list(tmp_path.iterdir()) == [tmp_path / "versions.wasm"]


def test_inspect_missing_files_projects_and_modules_that_are_not_proxy_wasm(
    setup: Setup, tmp_path: Path
) -> None:
    missing = setup.cli("inspect", "/nonexistent.wasm", expect=2)
    assert missing.stderr.strip() == "error: /nonexistent.wasm: no such file"

    project = setup.cli.json("inspect", str(setup.project))
    assert project["is_proxy_wasm"] is True and project["sha256"] == sha256(setup.module)

    plain = tmp_path / "plain.wasm"
    plain.write_bytes(b"\0asm\x01\0\0\0")  # a valid module with nothing in it
    report = setup.cli("inspect", str(plain), expect=1)
    assert report.stderr.count("is not a proxy-wasm module") == 1
    assert "incompatible" not in report.stdout
    assert "compatibility" not in report.stdout


def test_small_things_version_scheme_test_default_and_help(
    setup: Setup, tmp_path: Path
) -> None:
    from wasmhub import __version__

    assert setup.cli("--version").stdout.strip() == f"wasmhub {__version__}"
    pushed = setup.cli("push", str(setup.project), "http://" + setup.ref("first/scheme"))
    assert f"pushed {setup.ref('first/scheme')} (compat)" in pushed.stdout
    swapped = setup.cli("push", setup.ref("first/swapped"), str(setup.project), expect=2)
    assert f"wasmhub push {setup.project} {setup.ref('first/swapped')}" in swapped.stderr

    tested = setup.cli.at(setup.project)("test")
    assert "1/1 cases passed" in tested.stdout
    assert "1/1 cases passed" in setup.cli("test", str(setup.project)).stdout
    for verb in ("pull", "push", "search", "run", "seed"):
        assert "<bool>" not in setup.cli(verb, "--help").stdout, verb


def test_cli_finds_the_local_hub_and_connection_errors_name_the_option(
    setup: Setup, tmp_path: Path
) -> None:
    setup.cli("push", str(setup.project), setup.ref("first/findme"))
    found = setup.cli.at(tmp_path, WASMHUB_DATA_DIR=str(setup.data_dir))("search", "findme")
    assert "first/findme" in found.stdout
    typo = setup.cli("search", "fndme", "--hub", setup.server.url)
    assert "first/findme" in typo.stdout
    assert "nothing matched 'fndme' as typed; showing results for findme" in typo.stderr

    port = free_port()
    down = setup.cli("search", "x", "--hub", f"127.0.0.1:{port}", expect=1)
    assert f"cannot reach hub at http://127.0.0.1:{port}: connection refused" in down.stderr
    assert "--hub" in down.stderr and "WASMHUB_HUB_URL" in down.stderr


def test_store_commands_share_data_dir_and_database_url(setup: Setup, tmp_path: Path) -> None:
    samples = tmp_path / "samples" / "hello"
    (samples / "build").mkdir(parents=True)
    shutil.copy(setup.project / "plugin.yaml", samples / "plugin.yaml")
    shutil.copy(setup.module, samples / "build" / "plugin.wasm")
    store = tmp_path / "store"
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    opts = ("--data-dir", str(store), "--database-url", url)
    seeded = setup.cli("seed", *opts, "--examples", str(samples.parent))
    assert "published library/hello:0.1.0" in seeded.stdout
    assert "already has plugins" in setup.cli("seed", *opts, "--if-empty").stdout
    assert "OK" in setup.cli("fsck", *opts).stdout
    assert "would remove 0 blobs" in setup.cli("gc", *opts).stdout
    assert "reindexed 1 plugin versions" in setup.cli("catalog", "reindex", *opts).stdout
    env_cli = setup.cli.at(tmp_path, WASMHUB_DATA_DIR=str(store), WASMHUB_DATABASE_URL=url)
    assert "reindexed 1 plugin versions" in env_cli("catalog", "reindex").stdout
    # the same store through the environment: not empty, so --if-empty leaves it
    assert "already has plugins" in env_cli("seed", "--if-empty").stdout


def test_run_checks_the_config_before_the_plugin_and_takes_a_log_level(setup: Setup) -> None:
    bad_json = setup.cli("run", str(setup.project), "--config", '{"header": "x-a",', expect=2)
    assert "--config is not valid JSON" in bad_json.stderr
    off_schema = setup.cli("run", str(setup.project), "--config", '{"header": ""}', expect=2)
    assert f"does not match the configSchema in {setup.project / 'plugin.yaml'}" in (
        off_schema.stderr)
    assert "value: This field is required." in off_schema.stderr
    ran = setup.cli("run", str(setup.project), "--config", '{"header": "x-a", "value": "1"}',
                    "--log-level", "error")
    assert "Client got 200" in ran.stdout
