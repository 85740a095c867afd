"""Registry upkeep verbs: ``wasmhub fsck`` and ``wasmhub gc`` (logic in registry.maintenance)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wasmhub.cli.console import out
from wasmhub.cli.options import ConfigOpt, DatabaseUrlOpt, DataDirOpt, JsonOpt, local_settings
from wasmhub.hub import Hub


def _open_hub(config: Path | None, data_dir: Path | None, database_url: str | None) -> Hub:
    return Hub.open(local_settings(config, data_dir, database_url))


def fsck(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash every stored blob; exit 1 when any is corrupt or missing."""
    from wasmhub.registry.maintenance import fsck as run_fsck

    hub = _open_hub(config, data_dir, database_url)
    try:
        report = run_fsck(hub)
    finally:
        hub.close()
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        for bad in report.corrupt:
            out.print(f"CORRUPT  {bad['digest']} (content hashes to {bad['actual']})")
        for digest in report.missing_blobs:
            out.print(f"MISSING  {digest} (in the database, not in the blob store)")
        for message in report.errors:
            out.print(f"ERROR    {message}")
        out.print(f"checked {report.checked} blobs, {report.bytes_checked} bytes: "
                  + ("[green]OK[/]" if report.ok else "[red]problems found[/]"))
    if not report.ok:
        raise typer.Exit(1)


def gc(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    as_json: JsonOpt = False,
    delete: Annotated[bool, typer.Option("--delete", help="Remove them (default: report).")]
    = False,
    grace_seconds: Annotated[float, typer.Option(
        help="Keep blobs written or linked this recently (in-flight pushes).", min=0,
    )] = 3600,
    upload_max_age: Annotated[float, typer.Option(
        help="Remove upload sessions older than this many seconds.", min=0,
    )] = 86400,
) -> None:
    """Find blobs no manifest references; a dry run unless --delete."""
    from wasmhub.registry.maintenance import gc as run_gc

    hub = _open_hub(config, data_dir, database_url)
    try:
        report = run_gc(hub, delete_now=delete, grace_seconds=grace_seconds,
                        upload_max_age=upload_max_age)
    finally:
        hub.close()
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    verb = "removed" if delete else "would remove"
    for blob in report.blobs:
        out.print(f"{verb} {blob['digest']} ({blob['size']} bytes)")
    for upload_id in report.uploads:
        out.print(f"{verb} stale upload {upload_id}")
    out.print(f"{verb} {len(report.blobs)} blobs ({report.bytes} bytes) and "
              f"{len(report.uploads)} uploads" + ("" if delete else "; use --delete to act"))


def register(app: typer.Typer) -> None:
    app.command()(fsck)
    app.command()(gc)
