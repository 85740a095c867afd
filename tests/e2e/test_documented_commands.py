"""Every command the home page, the README and docs/cli.md show, run exactly as shown.

The commands are read from where a user reads them: the home page's quick-start box of a
running ``wasmhub serve`` (which puts its own host:port in them, as it does for any
visitor), the README's "Using it" table and "Sample plugins" block, and every ``$ `` line
of docs/cli.md's console blocks. README and docs name the default hub,
``127.0.0.1:5080``; the test puts its hub's address there, the one substitution a reader
with a hub elsewhere makes too. Each line goes to bash in a fresh directory with
``.venv/bin`` on PATH and the hub's data directory in ``WASMHUB_DATA_DIR`` (the user's
environment when they started the hub), in page order; each must exit 0.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli import REPO, Cli, clean_env, give_toolchain
from tests.support.servers import RunningServer, running_wasmhub
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [
    pytest.mark.timeout(1800),  # builds with npm/asc on a busy machine
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (scripts/bootstrap)"),
]

DEFAULT_HOST = "127.0.0.1:5080"
PASSWORD = "s3cret-passphrase"  # what the reader's $TOKEN holds in docs/cli.md
CODE_SPAN = re.compile(r"`(wasmhub [^`]+)`")


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = _section(readme, "## Using it")
    commands = [m.group(1) for line in table.splitlines() if line.startswith("|")
                for m in CODE_SPAN.finditer(line)]
    samples = _section(readme, "## Sample plugins")
    blocks = re.findall(r"```sh\n(.*?)```", samples, re.S)
    commands += [line.split("  #")[0].strip() for block in blocks
                 for line in block.splitlines() if line.startswith("wasmhub ")]
    return commands


def cli_doc_commands() -> list[str]:
    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", doc, re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def home_commands(server: RunningServer) -> list[str]:
    page = httpx.get(server.url + "/", timeout=30).text
    box = page.split('data-commands="quick-start"', 1)[1].split('<div class="container">')[0]
    return [html.unescape(c) for c in re.findall(r'<code class="cmd">(.*?)</code>', box)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    data = tmp_path_factory.mktemp("documented") / "hub"
    with running_wasmhub(data) as server:
        yield server, data


def _run_in_order(cli: Cli, commands: list[str], host: str,
                  before: dict[str, object] | None = None) -> None:
    for command in commands:
        line = command.replace(DEFAULT_HOST, host)
        if before and command in before:
            step = before[command]
            assert callable(step)
            step()
        result = cli.shell(line)
        assert result.returncode == 0, (
            f"`{line}` exited {result.returncode}\n--- stdout\n{result.stdout}\n"
            f"--- stderr\n{result.stderr}")


def test_the_home_page_commands_run_as_shown(
    hub: tuple[RunningServer, Path], tmp_path: Path
) -> None:
    server, data = hub
    commands = home_commands(server)
    assert len(commands) == 5, commands
    assert all(c.startswith("wasmhub ") for c in commands)
    assert any(f"wasmhub push my-filter {server.host}/" in c for c in commands)
    cli = Cli(tmp_path, clean_env(tmp_path, WASMHUB_DATA_DIR=str(data)))
    project = tmp_path / "my-filter"
    build = next(c for c in commands if c.startswith("wasmhub build"))
    _run_in_order(cli, commands, server.host, before={build: lambda: give_toolchain(project)})
    assert (tmp_path / "vendor" / "my-filter.wasm").read_bytes() == (
        project / "build" / "plugin.wasm").read_bytes()


def test_the_readme_and_cli_doc_commands_run_as_shown(
    hub: tuple[RunningServer, Path], tmp_path: Path
) -> None:
    server, data = hub
    readme = readme_commands()
    doc = cli_doc_commands()
    assert len(readme) >= 12 and len(doc) >= 18, (readme, doc)
    home = tmp_path / "user"
    # docs/cli.md logs in as alice with $TOKEN: the reader has an account on the hub.
    account_hub = Hub.open(Settings(data_dir=data))
    try:
        account_hub.identity.accounts.create_user("alice", "alice@example.com", PASSWORD)
    finally:
        account_hub.close()
    cli = Cli(tmp_path, clean_env(home, WASMHUB_DATA_DIR=str(data), TOKEN=PASSWORD,
                               WASMHUB_KEY_PASSPHRASE="the README reader's passphrase"))
    project = tmp_path / "my-filter"
    build = next(c for c in readme if c.startswith("wasmhub build"))
    _run_in_order(cli, readme, server.host, before={build: lambda: give_toolchain(project)})
    assert (tmp_path / "report.xml").is_file()
    assert (tmp_path / "vendor" / "my-filter.wasm").is_file()
    catalog = httpx.get(f"{server.url}/api/v1/plugins", params={"per_page": 50}, timeout=30)
    names = {f"{p['namespace']}/{p['name']}" for p in catalog.json()["items"]}
    assert {"acme/my-filter", "library/add-header", "library/rate-limit"} <= names, names

    _run_in_order(cli, doc, server.host)
    assert (tmp_path / "add-header.wasm").is_file()
    tags = httpx.get(f"{server.url}/v2/acme/add-header/tags/list", timeout=30).json()["tags"]
    assert {"0.1.0", "stable"} <= set(tags)
