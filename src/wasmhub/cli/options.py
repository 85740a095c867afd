"""The options every command shares, declared once so each verb spells them the same way.

Commands that open the hub's own store (``seed``, ``fsck``, ``gc``, ``catalog reindex``)
take ``--config``, ``--data-dir`` and ``--database-url`` with the environment names
``serve`` uses (``WASMHUB_CONFIG``, ``WASMHUB_DATA_DIR``, ``WASMHUB_DATABASE_URL``), so
``serve --data-dir X`` and ``seed --data-dir X`` mean the same store. Commands that talk to
a running hub take ``--hub`` (``WASMHUB_HUB_URL``; without either they find a local
``serve`` through ``wasmhub.local_hub``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wasmhub.cli.console import fail
from wasmhub.errors import ConfigError
from wasmhub.settings import Settings, load_settings

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file, YAML or TOML [WASMHUB_CONFIG].")
]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data directory [WASMHUB_DATA_DIR], default ~/.local/share/wasmhub.")]
DatabaseUrlOpt = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL [WASMHUB_DATABASE_URL], default SQLite in the data"
    " directory.")]
HubOpt = Annotated[str | None, typer.Option(
    "--hub", help="Hub URL [WASMHUB_HUB_URL]; default: the hub a local serve started,"
    " else http://127.0.0.1:5080.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def local_settings(config: Path | None, data_dir: Path | None,
                   database_url: str | None) -> Settings:
    """Settings for a command that opens the store; a bad setting exits 2 naming it."""
    try:
        return load_settings(config, data_dir=data_dir, database_url=database_url)
    except ConfigError as exc:
        fail(exc.message, code=2)
