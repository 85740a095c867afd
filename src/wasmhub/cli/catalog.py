"""Catalog verbs: ``catalog reindex`` (rebuild from stored manifests) and ``seed``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wasmhub.cli.console import err, fail, out
from wasmhub.cli.server import ConfigOpt, settings_from_cli
from wasmhub.errors import WasmhubError
from wasmhub.hub import Hub

catalog_app = typer.Typer(help="The plugin catalog (search index).", no_args_is_help=True)


def _open_hub(config: Path | None) -> Hub:
    from wasmhub.db.migrate import upgrade

    hub = Hub.open(settings_from_cli(config))
    upgrade(hub.database)
    return hub


@catalog_app.command("reindex")
def reindex(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Rebuild the catalog from the registry's stored manifests (blobs are the truth)."""
    from wasmhub.catalog.indexer import CatalogIndexer
    from wasmhub.signing.index import SignatureIndex

    hub = _open_hub(config)
    try:
        report = CatalogIndexer(hub).reindex()
        signed = SignatureIndex(hub).reindex()
    except WasmhubError as exc:
        fail(exc.message, code=1)
    finally:
        hub.close()
    if as_json:
        out.print_json(json.dumps({**report.__dict__, "signature_subjects": signed}))
    else:
        out.print(
            f"reindexed {report.versions} plugin versions in {report.repositories} "
            f"repositories ({report.skipped} non-plugin tags, {report.removed} stale entries "
            f"removed); re-verified the signatures of {signed} manifests"
        )
        for problem in report.errors:
            err.print(f"[yellow]skipped[/] {problem}")
    if report.errors:
        raise typer.Exit(1)


def seed(
    config: ConfigOpt = None,
    examples: Annotated[
        Path | None, typer.Option(help="Directory of sample plugins (default: examples/).")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Namespace to publish under.")] = "library",
) -> None:
    """Publish the sample plugins into this hub so the catalog has something to show."""
    from wasmhub.catalog.seed import BUILD_HINT, default_examples_dir, seed_samples

    hub = _open_hub(config)
    try:
        report = seed_samples(hub, examples or default_examples_dir(), namespace)
    except WasmhubError as exc:
        fail(exc.message, code=1)
    finally:
        hub.close()
    for repository, tag, digest in report.published:
        out.print(f"published {repository}:{tag} {digest}")
    if report.unbuilt:
        err.print(f"[yellow]not built[/]: {', '.join(report.unbuilt)}; build with: {BUILD_HINT}")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.command()(seed)
