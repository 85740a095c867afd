"""Server-side verbs: ``serve``, ``config check``, ``db upgrade``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmhub.cli.console import err, fail, out
from wasmhub.db.engine import Database
from wasmhub.errors import ConfigError
from wasmhub.settings import DEFAULT_PORT, Settings, load_settings

if TYPE_CHECKING:
    from wasmhub.fleet.server import XdsServer

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (YAML or TOML).")
]


def settings_from_cli(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        fail(exc.message, code=2)


def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address [WASMHUB_HOST].")] = None,
    port: Annotated[
        int | None, typer.Option(help=f"Listen port [WASMHUB_PORT], default {DEFAULT_PORT}.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory [WASMHUB_DATA_DIR].")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL [WASMHUB_DATABASE_URL].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [WASMHUB_WORKERS].")
    ] = None,
    xds_port: Annotated[
        int | None, typer.Option(help="Serve ECDS to Envoy fleets on this gRPC port "
                                      "[WASMHUB_XDS_PORT]; default: off.")
    ] = None,
) -> None:
    """Run the hub: OCI registry on /v2/, REST API on /api/v1, web UI on /."""
    from wasmhub.app import SETTINGS_ENV
    from wasmhub.db.migrate import upgrade
    from wasmhub.ops.serving import metrics_directory
    from wasmhub.serving import ListenError, ReadyAnnouncer, bind_listener, run_server

    settings = settings_from_cli(
        config, host=host, port=port, data_dir=data_dir, database_url=database_url,
        workers=workers, xds_port=xds_port,
    )
    # Bind first: a port in use is one line naming the option, before any other work.
    try:
        sock = bind_listener(settings.host, settings.port, reuse_port=settings.reuse_port)
    except ListenError as exc:
        fail(exc.message, code=3)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url, settings.database_pool_size)
    try:
        upgrade(database)
    finally:
        database.dispose()
    if _hub_is_empty(settings):
        err.print(
            "The hub is empty. To see a living catalog, publish the sample plugins: "
            "[bold]wasmhub seed[/] (see README, 'Sample plugins')."
        )
    os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
    dialect = database.engine.dialect.name

    def announce() -> None:
        err.print(
            f"wasmhub serving on http://{settings.host}:{settings.port} "
            f"(data: {settings.data_dir}, database: {dialect}, workers: {settings.workers})"
        )

    # The URL is printed once /healthz answers on it, not before.
    xds = _start_xds(settings)
    announcer = ReadyAnnouncer(settings.host, settings.port, announce)
    announcer.start()
    try:
        with metrics_directory():  # shared by the workers' Prometheus collectors
            run_server(settings, sock)
    finally:
        announcer.stop()
        if xds is not None:
            xds.stop()


def _start_xds(settings: Settings) -> XdsServer | None:
    """The ECDS server, in a thread of this (the supervisor's) process: one per serve,
    whatever the worker count; the database carries changes to it (docs/deploy.md)."""
    if settings.xds_port is None:
        return None
    from wasmhub.fleet.server import XdsListenError, XdsServer
    from wasmhub.fleet.service import FleetService
    from wasmhub.hub import Hub

    hub = Hub(settings=settings, database=Database(settings.effective_database_url))
    server = XdsServer(FleetService(hub), settings.xds_host or settings.host,
                       settings.xds_port, poll_seconds=settings.xds_poll_seconds,
                       max_streams=settings.xds_max_streams,
                       max_names=settings.xds_max_names_per_stream,
                       stale_seconds=settings.xds_stale_seconds)
    try:
        server.start()
    except XdsListenError as exc:
        fail(exc.message, code=3)
    err.print(f"wasmhub xDS (ECDS) on {settings.xds_host or settings.host}:{settings.xds_port}")
    return server


def _hub_is_empty(settings: Settings) -> bool:
    """True when the registry holds no repository at all (a first start)."""
    from wasmhub.hub import Hub
    from wasmhub.registry.service import RegistryService

    hub = Hub(settings=settings,
              database=Database(settings.effective_database_url, settings.database_pool_size))
    try:
        return not RegistryService(hub).repositories_page(n=1).items
    finally:
        hub.close()


config_app = typer.Typer(help="Inspect and validate settings.", no_args_is_help=True)


@config_app.command("check")
def config_check(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Load settings from file and environment and report any bad setting."""
    settings = settings_from_cli(config)
    data = settings.model_dump(mode="json")
    data["effective_database_url"] = settings.effective_database_url
    if as_json:
        out.print_json(json.dumps(data))
        return
    for key, value in data.items():
        out.print(f"{key:24} {value}")
    out.print("[green]configuration OK[/]")


db_app = typer.Typer(help="Metadata database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply pending schema migrations (serve does this on start)."""
    from wasmhub.db.migrate import current_revision, upgrade

    settings = settings_from_cli(config)
    database = Database(settings.effective_database_url, settings.database_pool_size)
    try:
        upgrade(database)
        out.print(f"database at revision {current_revision(database) or '(empty)'}")
    finally:
        database.dispose()


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")
