"""The ``wasmhub`` command: one Typer app, one module per verb group.

Exit codes: 0 success, 1 a failed check or test, 2 bad usage or configuration.
Errors go to stderr as one line a user can act on.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from wasmhub import __version__
from wasmhub.cli.console import err, out
from wasmhub.errors import ConfigError, WasmhubError

app = typer.Typer(
    name="wasmhub",
    help="Build, share, find, trust, test and deploy proxy-wasm plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Verb-group modules; each exposes ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "wasmhub.cli.server",
    "wasmhub.cli.registry_admin",
    "wasmhub.cli.artifacts",
    "wasmhub.cli.pulling",
    "wasmhub.cli.inspecting",
    "wasmhub.cli.discovery",
    "wasmhub.cli.build",
    "wasmhub.cli.runtime",
    "wasmhub.cli.catalog",
    "wasmhub.cli.deploy",
    "wasmhub.cli.fleet",
    "wasmhub.cli.signing",
    "wasmhub.cli.trust",
    "wasmhub.cli.identity",
)



def _show_version(value: bool) -> None:
    if value:
        out.print(f"wasmhub {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_show_version,
        help="Print the wasmhub version and exit.")] = False,
) -> None:
    """Build, share, find, trust, test and deploy proxy-wasm plugins."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _exit_with(message: str, code: int) -> None:
    # Outside any Typer context here, so print and exit instead of raising typer.Exit.
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def _commands(command: Any) -> Iterator[Any]:
    yield command
    for sub in (getattr(command, "commands", None) or {}).values():
        yield from _commands(sub)


def _hide_flag_types(command: Any) -> None:
    """Help shows ``--json`` as a switch, not as an option taking a ``<bool>``."""
    original = command.get_params

    def get_params(ctx: Any) -> list[Any]:
        params: list[Any] = original(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params

    command.get_params = get_params


def cli_command() -> Any:
    """The command tree of ``wasmhub`` (Typer's vendored click), with help fit for people."""
    command = typer.main.get_command(app)
    for each in _commands(command):
        _hide_flag_types(each)
    return command


def main() -> None:
    """Entry point of the ``wasmhub`` executable: domain errors become one line + exit code."""
    try:
        cli_command()(prog_name="wasmhub")
    except ConfigError as exc:
        _exit_with(exc.message, 2)
    except WasmhubError as exc:
        _exit_with(exc.message, 1)
    except KeyboardInterrupt:
        _exit_with("interrupted", 130)
