"""``wasmhub inspect``: what a module is and where it loads, for a file, a project or an image.

The target is read as a path when it exists (a ``.wasm`` file, or a plugin project
directory resolved the way ``push`` resolves it), and reported missing when it looks like
one (ends in ``.wasm``, or starts with ``/``, ``./``, ``../`` or ``~``); anything else is
an image reference. A module that is not proxy-wasm is said once, without the
per-platform table, and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from wasmhub.cli.artifacts import (
    InsecureOpt,
    emit_json,
    handle_errors,
    parse_ref,
    plain_http,
    transfer_progress,
)
from wasmhub.cli.console import err, out
from wasmhub.cli.options import JsonOpt
from wasmhub.cli.pulling import fetch_plugin, resolve_reference
from wasmhub.client.project import collect_project
from wasmhub.client.registry import RegistryClient
from wasmhub.errors import ConfigError

if TYPE_CHECKING:
    from wasmhub.wasm.report import ModuleReport

PATH_PREFIXES = ("/", "./", "../", "~")


def looks_like_path(target: str) -> bool:
    return target.lower().endswith(".wasm") or target.startswith(PATH_PREFIXES)


def _local_module(target: str) -> tuple[bytes, str] | None:
    """(bytes, title) of a local file or project, None for a reference."""
    path = Path(target).expanduser()
    if path.is_dir():
        project = collect_project(path)
        return project.module, str(project.module_path)
    if path.is_file():
        return path.read_bytes(), str(path)
    if looks_like_path(target):
        raise ConfigError(f"{target}: no such file")
    return None


def _compatibility(report: ModuleReport) -> list[dict[str, Any]] | None:
    """Per-platform verdicts from ``wasmhub.wasm.compat`` (None in builds without it)."""
    try:
        from wasmhub.wasm.compat import compatibility
    except ImportError:
        return None
    return [verdict.to_json() for verdict in compatibility(report)]


def _yes(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[value]


def _print_report(title: str, data: dict[str, Any]) -> None:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("module", title)
    if "reference" in data:
        facts.add_row("image", f"{data['reference']} ({data['layout']} layout)")
    facts.add_row("size", f"{data['size']} bytes")
    facts.add_row("sha256", data["sha256"])
    facts.add_row("proxy-wasm", _yes(data["is_proxy_wasm"]))
    facts.add_row("ABI", f"{data['abi_version'] or '-'}"
                  + (f" ({data['abi_marker']})" if data.get("abi_marker") else ""))
    facts.add_row("filter types", ", ".join(data["filter_types"]) or "-")
    facts.add_row("callbacks", str(len(data["callbacks"])))
    facts.add_row("WASI", data["wasi"] or "none")
    language = " / ".join(x for x in (data["language"], data["sdk"], data["toolchain"]) if x)
    facts.add_row("language", language or "unknown")
    out.print(facts)
    if data["host_functions"]:
        table = Table(title="host functions (env imports)", title_justify="left")
        table.add_column("name")
        table.add_column("in declared ABI")
        table.add_column("defined in ABI versions")
        for host in data["host_functions"]:
            table.add_row(host["name"], _yes(host["in_abi"]),
                          ", ".join(host["defined_in"]) or "[red]none[/]")
        out.print(table)
    if data["unknown_imports"]:
        out.print("[red]imports no proxy-wasm host provides:[/] "
                  + ", ".join(data["unknown_imports"]))
    if data.get("compatibility"):
        table = Table(title="compatibility", title_justify="left")
        for column in ("platform", "version", "verdict", "why"):
            table.add_column(column, overflow="fold")
        colour = {"compatible": "green", "incompatible": "red", "unverified": "yellow"}
        for row in data["compatibility"]:
            status = str(row["status"])
            table.add_row(str(row["platform_name"]), str(row["version"]),
                          f"[{colour.get(status, 'white')}]{status}[/]",
                          "; ".join(row.get("reasons") or []))
        out.print(table)
    for warning in data["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")


@handle_errors
def inspect(
    target: Annotated[str, typer.Argument(
        help="A .wasm file, a plugin project directory, or an image reference.")],
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Describe a module: ABI, filter types, host imports per ABI, WASI, language."""
    from wasmhub.wasm import inspect_module

    extra: dict[str, Any] = {}
    local = _local_module(target)
    if local is not None:
        module, title = local
    else:
        ref = parse_ref(target)
        with RegistryClient(ref.registry, insecure=plain_http(target, ref, insecure)) as client:
            ref, note = resolve_reference(client, ref)
            if note and not as_json:
                err.print(note)
            with transfer_progress(not as_json) as progress:
                plugin, digest = fetch_plugin(client, ref, progress)
        module, title = plugin.module, f"{ref.name}.wasm"
        extra = {"reference": str(ref.with_digest(digest)), "layout": str(plugin.layout)}
    report = inspect_module(module)
    data = {**report.to_json(), **extra}
    if report.is_proxy_wasm:
        compat = _compatibility(report)
        if compat is not None:
            data["compatibility"] = compat
    if as_json:
        emit_json(data)
    else:
        _print_report(title, data)
    if not report.is_proxy_wasm:
        err.print(f"[bold red]error:[/] {title} is not a proxy-wasm module: it has no "
                  "proxy_abi_version_* marker and no proxy_on_* callback, so no Envoy-based "
                  "proxy can load it as a filter")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(inspect)
