"""Hub admin verbs for trust: ``wasmhub trust key add|revoke|list`` and
``wasmhub trust policy set|show``, run against the hub's database (like ``db upgrade``).

Each change is audited with ``--actor`` (default: the OS user). Organization owners will
make the same changes through the API once identity lands (docs/trust.md).
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wasmhub.cli.artifacts import emit_json, handle_errors
from wasmhub.cli.console import out
from wasmhub.cli.options import JsonOpt
from wasmhub.cli.server import ConfigOpt, settings_from_cli
from wasmhub.errors import ConfigError
from wasmhub.hub import Hub
from wasmhub.signing.policy import parse_mode
from wasmhub.signing.trust import TrustService

trust_app = typer.Typer(help="Trusted keys and signature policies of this hub (admin).",
                        no_args_is_help=True)
key_app = typer.Typer(help="Public keys a namespace trusts.", no_args_is_help=True)
policy_app = typer.Typer(help="Signature policies (optional, required-for-deploy, "
                              "required-for-pull).", no_args_is_help=True)
trust_app.add_typer(key_app, name="key")
trust_app.add_typer(policy_app, name="policy")

ActorOpt = Annotated[str | None, typer.Option(
    "--actor", help="Who makes the change, for the audit log (default: OS user).")]


def _service(config: Path | None) -> tuple[Hub, TrustService]:
    from wasmhub.db.migrate import upgrade

    hub = Hub.open(settings_from_cli(config))
    upgrade(hub.database)
    return hub, TrustService(hub)


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--expires {text!r} is not an ISO date (2027-01-31 or "
                          "2027-01-31T12:00:00+00:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@key_app.command("add")
@handle_errors
def key_add(
    namespace: Annotated[str, typer.Argument(help="Namespace (organization).")],
    public_key: Annotated[Path, typer.Argument(help="PEM PUBLIC KEY file (e.g. cosign.pub).")],
    name: Annotated[str, typer.Option("--name", help="Name of the key in the namespace.")],
    expires: Annotated[str | None, typer.Option(
        "--expires", help="Stop trusting the key after this ISO date/time.")] = None,
    actor: ActorOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Register a public key as trusted for a namespace."""
    try:
        pem = public_key.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {public_key}: {exc.strerror}") from exc
    hub, service = _service(config)
    try:
        view = service.add_key(namespace, name, pem, _actor(actor), _date(expires))
    finally:
        hub.close()
    if as_json:
        emit_json(view.to_json())
    else:
        out.print(f"namespace {namespace} trusts key {name} ({view.key_id})")


@key_app.command("revoke")
@handle_errors
def key_revoke(
    namespace: Annotated[str, typer.Argument(help="Namespace (organization).")],
    name: Annotated[str, typer.Argument(help="Key name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown to verifiers).")],
    actor: ActorOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Revoke a key: its signatures stop verifying at once."""
    hub, service = _service(config)
    try:
        view = service.revoke_key(namespace, name, reason, _actor(actor))
    finally:
        hub.close()
    if as_json:
        emit_json(view.to_json())
    else:
        out.print(f"revoked key {name} of {namespace}")


@key_app.command("list")
@handle_errors
def key_list(
    namespace: Annotated[str, typer.Argument(help="Namespace (organization).")],
    config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """The keys a namespace registered, with their status."""
    hub, service = _service(config)
    try:
        keys = service.keys(namespace)
    finally:
        hub.close()
    if as_json:
        emit_json([k.to_json() for k in keys])
        return
    table = Table(title=f"keys of {namespace}", title_justify="left")
    for column in ("name", "key id", "status", "expires", "added by"):
        table.add_column(column, overflow="fold")
    for k in keys:
        table.add_row(k.name, k.key_id, k.status(),
                      k.expires_at.isoformat() if k.expires_at else "-", k.created_by)
    out.print(table)


@policy_app.command("set")
@handle_errors
def policy_set(
    mode: Annotated[str, typer.Argument(
        help="optional, required-for-deploy or required-for-pull.")],
    namespace: Annotated[str | None, typer.Option(
        "--namespace", "-n", help="The namespace (omit with --default).")] = None,
    default: Annotated[bool, typer.Option("--default", help="Set the hub-wide default.")
                       ] = False,
    actor: ActorOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Set the signature policy of a namespace or the hub-wide default."""
    if (namespace is None) == (not default):
        raise ConfigError("give --namespace NS or --default (exactly one)")
    chosen = parse_mode(mode)
    hub, service = _service(config)
    try:
        policy = service.set_policy(namespace, chosen, _actor(actor))
    finally:
        hub.close()
    if as_json:
        emit_json(policy.to_json())
    else:
        out.print(f"policy of {namespace or 'the hub (default)'}: {policy.mode.value}")


@policy_app.command("show")
@handle_errors
def policy_show(
    namespace: Annotated[str | None, typer.Argument(help="Namespace (omit: the default).")
                         ] = None,
    config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """The policy that applies to a namespace (or the hub-wide default)."""
    hub, service = _service(config)
    try:
        policy = service.policy(namespace) if namespace else service.default_policy()
    finally:
        hub.close()
    if as_json:
        typer.echo(json.dumps(policy.to_json()))
    else:
        out.print(f"{policy.namespace}: {policy.mode.value} ({policy.source})")


def register(app: typer.Typer) -> None:
    app.add_typer(trust_app, name="trust")


__all__ = ["register"]
