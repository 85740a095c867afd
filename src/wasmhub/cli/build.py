"""Plugin author verbs: ``init`` (scaffold a project) and ``build`` (run its toolchain).

The work is done by ``wasmhub.build``; this module parses options, shows progress with Rich
and maps errors to exit codes (1: missing toolchain or failed build, 2: bad usage).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from wasmhub.build import (
    INIT_LANGUAGES,
    BuildFailedError,
    Command,
    DirectoryNotEmptyError,
    ProjectError,
    ToolchainMissingError,
    build_project,
    init_project,
    parse_language,
)
from wasmhub.cli.console import err, fail, out

_LANGS = "|".join(lang.value for lang in INIT_LANGUAGES)


def init(
    directory: Annotated[Path, typer.Argument(help="Project directory (created if missing).")],
    language: Annotated[
        str, typer.Option("--language", "-l", help=f"Plugin language: {_LANGS}.")
    ] = "assemblyscript",
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Plugin name (default: directory name).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory, overwriting.")
    ] = False,
) -> None:
    """Create a plugin project: plugin.yaml, a sample filter, tests.yaml, README, build files."""
    try:
        result = init_project(directory, parse_language(language), name=name, force=force)
    except DirectoryNotEmptyError as exc:
        fail(exc.message, code=1)
    except ProjectError as exc:
        fail(exc.message, code=2)
    out.print(f"[green]created[/] {escape(result.name)} ({result.language.value}) "
              f"in {escape(str(directory))}", markup=True)
    for path in result.files:
        out.print(f"  {escape(str(path.relative_to(directory)))}", markup=True)
    out.print(f"next: [bold]wasmhub build {escape(str(directory))}[/] then "
              f"[bold]wasmhub test {escape(str(directory / 'tests.yaml'))}[/]", markup=True)


def build(
    directory: Annotated[Path, typer.Argument(help="Project directory.")] = Path("."),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Module path (default: build/plugin.wasm)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Hide toolchain output.")] = False,
) -> None:
    """Build the plugin with its real toolchain, then inspect the module it produced."""

    def show_command(command: Command) -> None:
        err.print(f"[bold cyan]==>[/] {escape(command.description)}: "
                  f"[dim]{escape(command.display())}[/]", markup=True)

    def show_line(line: str) -> None:
        if not quiet:
            err.print(escape(line), markup=True)

    try:
        with err.status("building…", spinner="dots") if quiet else nullcontext():
            result = build_project(directory, output, sink=show_line, on_command=show_command)
    except ToolchainMissingError as exc:
        fail(exc.message, code=1)
    except BuildFailedError as exc:
        fail(exc.message, code=1)
    except ProjectError as exc:
        fail(exc.message, code=2)
    report = result.report
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("module", str(result.output))
    table.add_row("language", result.project.language.value)
    table.add_row("size", f"{report.size} bytes")
    table.add_row("sha256", report.sha256)
    table.add_row("abi", report.abi_version or "unknown")
    table.add_row("filter types", ", ".join(sorted(report.filter_types)) or "-")
    table.add_row("wasi", report.wasi or "-")
    table.add_row("callbacks", ", ".join(report.callbacks))
    out.print("[green]built[/] proxy-wasm plugin", markup=True)
    out.print(table)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(build)
