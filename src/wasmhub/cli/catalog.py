"""Catalog verbs: ``catalog reindex`` (rebuild from stored manifests) and ``seed``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from wasmhub.cli.console import err, fail, out
from wasmhub.cli.options import ConfigOpt, DatabaseUrlOpt, DataDirOpt, JsonOpt, local_settings
from wasmhub.errors import WasmhubError
from wasmhub.hub import Hub

catalog_app = typer.Typer(help="The plugin catalog (search index).", no_args_is_help=True)


def _open_hub(config: Path | None, data_dir: Path | None, database_url: str | None) -> Hub:
    from wasmhub.db.migrate import upgrade

    settings = local_settings(config, data_dir, database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    hub = Hub.open(settings)
    upgrade(hub.database)
    return hub


@catalog_app.command("reindex")
def reindex(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the catalog from the registry's stored manifests (blobs are the truth)."""
    from wasmhub.catalog.indexer import CatalogIndexer
    from wasmhub.signing.index import SignatureIndex

    hub = _open_hub(config, data_dir, database_url)
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


def _is_empty(hub: Hub) -> bool:
    from wasmhub.registry.service import RegistryService

    return not RegistryService(hub).repositories_page(n=1).items


def seed(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    examples: Annotated[
        Path | None, typer.Option(help="Directory of sample plugins (default: examples/).")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Namespace to publish under.")] = "library",
    build: Annotated[bool, typer.Option(
        "--build/--no-build", help="Build samples that have no module yet (default: build).")
    ] = True,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Do nothing when the hub already holds a repository.")] = False,
) -> None:
    """Publish the sample plugins into this hub (building them first) so the catalog lives."""
    from wasmhub.catalog.seed import BUILD_HINT, build_samples, default_examples_dir, seed_samples

    source = examples or default_examples_dir()
    hub = _open_hub(config, data_dir, database_url)
    try:
        if if_empty and not _is_empty(hub):
            out.print(f"the hub in {hub.settings.data_dir} already has plugins; not seeding")
            return
        failed: dict[str, str] = {}
        if build:
            failed = build_samples(source, on_build=lambda name: err.print(
                f"building sample {name} (examples/{name}) …"))
        report = seed_samples(hub, source, namespace)
    except WasmhubError as exc:
        fail(exc.message, code=1)
    finally:
        hub.close()
    for repository, tag, digest in report.published:
        out.print(f"published {repository}:{tag} {digest}")
    for name, why in failed.items():
        err.print(f"[yellow]could not build[/] {name}: {why}")
    if report.unbuilt:
        err.print(f"[yellow]not built[/]: {', '.join(report.unbuilt)}; build with: {BUILD_HINT}")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.command()(seed)
