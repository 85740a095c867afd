"""The ``wasmhub`` command: one Typer app, one module per verb group.

Exit codes: 0 success, 1 a failed check or test, 2 bad usage or configuration.
Errors go to stderr as one line a user can act on.
"""

from __future__ import annotations

import importlib
import sys

import typer

from wasmhub.cli.console import fail
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
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        fail(exc.message, code=2)
    except WasmhubError as exc:
        fail(exc.message, code=1)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    sys.exit(0)
