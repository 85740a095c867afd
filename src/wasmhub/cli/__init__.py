"""The ``wasmhub`` command: one Typer app, one module per verb group.

Exit codes: 0 success, 1 a failed check or test, 2 bad usage or configuration.
Errors go to stderr as one line a user can act on.
"""

from __future__ import annotations

import importlib
import sys

import typer

from wasmhub.cli.console import err
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
    "wasmhub.cli.build",
    "wasmhub.cli.runtime",
    "wasmhub.cli.catalog",
    "wasmhub.cli.deploy",
    "wasmhub.cli.identity",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _exit_with(message: str, code: int) -> None:
    # Outside any Typer context here, so print and exit instead of raising typer.Exit.
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def main() -> None:
    """Entry point of the ``wasmhub`` executable: domain errors become one line + exit code."""
    try:
        app()
    except ConfigError as exc:
        _exit_with(exc.message, 2)
    except WasmhubError as exc:
        _exit_with(exc.message, 1)
    except KeyboardInterrupt:
        _exit_with("interrupted", 130)
