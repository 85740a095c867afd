"""Identity verbs: ``wasmhub admin`` (on the hub's own database), ``wasmhub token``,
``wasmhub org`` and ``wasmhub team`` (through the hub's API with the credentials
``wasmhub login`` saved).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wasmhub.cli.artifacts import handle_errors
from wasmhub.cli.console import err, out
from wasmhub.cli.server import ConfigOpt, settings_from_cli
from wasmhub.client.account import AccountClient
from wasmhub.client.hub import default_hub_url
from wasmhub.errors import ConfigError

admin_app = typer.Typer(help="Hub administration on this machine (users, keys).",
                        no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations and their members.", no_args_is_help=True)
team_app = typer.Typer(help="Teams inside an organization.", no_args_is_help=True)
plugin_app = typer.Typer(help="Plugin administration (transfer between namespaces).",
                         no_args_is_help=True)

HubOpt = Annotated[str | None, typer.Option("--hub", help="Hub URL [WASMHUB_HUB_URL].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _open(config: Path | None) -> Any:
    from wasmhub.db.engine import Database
    from wasmhub.db.migrate import upgrade
    from wasmhub.hub import Hub

    settings = settings_from_cli(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url, settings.database_pool_size)
    try:
        upgrade(database)
    finally:
        database.dispose()
    return Hub.open(settings)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.read().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


# -- admin --------------------------------------------------------------------------------


@admin_app.command("create-user")
@handle_errors
def create_user(
    username: Annotated[str, typer.Argument(help="Also the user's namespace.")],
    email: Annotated[str, typer.Option("--email", help="E-mail address.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    site_admin: Annotated[bool, typer.Option("--admin", help="A hub administrator.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a user (the first-run bootstrap: `wasmhub admin create-user NAME --admin`)."""
    hub = _open(config)
    try:
        info = hub.identity.accounts.create_user(username, email, _password(password_stdin),
                                                 is_admin=site_admin)
        hub.identity.audit.record(_action("SIGN_UP"), None, actor="cli", target=info.username,
                                  namespace=info.username, admin=site_admin)
    finally:
        hub.close()
    out.print(f"Created user {info.username}{' (administrator)' if site_admin else ''}")


def _action(name: str) -> Any:
    from wasmhub.authz.audit import AuditAction

    return AuditAction[name]


@admin_app.command("disable-user")
@handle_errors
def disable_user(username: str, enable: Annotated[bool, typer.Option("--enable")] = False,
                 config: ConfigOpt = None) -> None:
    """Disable a user (their sessions end and their tokens stop working), or re-enable."""
    hub = _open(config)
    try:
        info = hub.identity.accounts.set_disabled(username, not enable)
        hub.identity.audit.record(_action("USER_DISABLE"), None, actor="cli",
                                  target=info.username, namespace=info.username,
                                  disabled=not enable)
    finally:
        hub.close()
    out.print(f"{info.username} is {'enabled' if enable else 'disabled'}")


@admin_app.command("invite-code")
@handle_errors
def invite_code(config: ConfigOpt = None) -> None:
    """Print a single-use sign-up code (for `signup: invite-only` hubs)."""
    hub = _open(config)
    try:
        out.print(hub.identity.accounts.create_signup_code("cli"))
    finally:
        hub.close()


@admin_app.command("rotate-registry-key")
@handle_errors
def rotate_key(retire: Annotated[bool, typer.Option(
        "--retire", help="Drop every older key (tokens they signed stop working).")] = False,
        config: ConfigOpt = None) -> None:
    """Make a new key sign registry tokens; older keys still verify unless --retire."""
    hub = _open(config)
    try:
        kid = hub.identity.signer.rotate(retire=retire)
    finally:
        hub.close()
    out.print(f"registry tokens are now signed with key {kid}")


# -- tokens -------------------------------------------------------------------------------


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        out.print_json(json.dumps(data, default=str))
    else:
        for line in lines:
            out.print(line)


@token_app.command("create")
@handle_errors
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'ci pull'.")],
    scope: Annotated[list[str], typer.Option("--scope", "-s",
                                             help="pull, push, delete or admin (repeat).")],
    resource: Annotated[list[str] | None, typer.Option(
        "--resource", "-r", help="Limit to a namespace or repository (repeat).")] = None,
    org: Annotated[str | None, typer.Option("--org", help="An organization token.")] = None,
    expires_days: Annotated[int, typer.Option("--expires-days", min=1, max=366)] = 90,
    hub: HubOpt = None, as_json: JsonOpt = False,
) -> None:
    """Create an API token; the secret is printed once."""
    with AccountClient(hub or default_hub_url()) as client:
        made = client.call("POST", "/tokens", {
            "name": name, "scopes": scope, "resources": resource or [],
            "organization": org, "expires_days": expires_days})
    _print(made, as_json, [made["token"]])
    if not as_json:
        err.print(f"token {made['id']} ({', '.join(made['scopes'])}); it is not shown again")


@token_app.command("list")
@handle_errors
def token_list(org: Annotated[str | None, typer.Option("--org")] = None, hub: HubOpt = None,
               as_json: JsonOpt = False) -> None:
    """Your tokens (or an organization's)."""
    with AccountClient(hub or default_hub_url()) as client:
        tokens = client.call("GET", "/tokens", params={"organization": org} if org else None)
    _print(tokens, as_json, [
        f"{t['id']:>5}  {t['name']:<24} {','.join(t['scopes']):<20} "
        f"{','.join(t['resources']) or '*':<24} "
        f"{'revoked' if t['revoked'] else 'expires ' + str(t['expires_at'] or 'never')[:10]}"
        f"  last used {str(t['last_used_at'] or 'never')[:19]}" for t in tokens])


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: int, hub: HubOpt = None) -> None:
    """Revoke a token (it stops working at once; registry tokens it got expire soon)."""
    with AccountClient(hub or default_hub_url()) as client:
        client.call("DELETE", f"/tokens/{token_id}")
    out.print(f"revoked token {token_id}")


# -- organizations and teams ------------------------------------------------------------------


@org_app.command("create")
@handle_errors
def org_create(name: str, hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("POST", "/orgs", {"name": name})
    out.print(f"created organization {name}")


@org_app.command("show")
@handle_errors
def org_show(name: str, hub: HubOpt = None, as_json: JsonOpt = False) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        info = client.call("GET", f"/orgs/{name}")
    lines = [f"{info['name']}{' (private)' if info['private'] else ''}"]
    lines += [f"  {user}: {role}" for user, role in info["members"].items()]
    lines += [f"  invited {user}: {role}" for user, role in info["invitations"].items()]
    lines += [f"  team {t['name']}: {', '.join(t['members']) or '-'}; "
              + ", ".join(f"{r} {p}" for r, p in t["grants"].items()) for t in info["teams"]]
    _print(info, as_json, lines)


@org_app.command("invite")
@handle_errors
def org_invite(org: str, username: str, role: Annotated[str, typer.Option(
        "--role", help="owner, maintainer or member")] = "member", hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("POST", f"/orgs/{org}/invitations", {"username": username, "role": role})
    out.print(f"invited {username} to {org} as {role}")


@org_app.command("accept")
@handle_errors
def org_accept(org: str, decline: Annotated[bool, typer.Option("--decline")] = False,
               hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("POST", f"/invitations/{org}/{'decline' if decline else 'accept'}")
    out.print(f"{'declined' if decline else 'joined'} {org}")


@org_app.command("set-role")
@handle_errors
def org_set_role(org: str, username: str, role: str, hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("PUT", f"/orgs/{org}/members/{username}", {"role": role})
    out.print(f"{username} is now {role} of {org}")


@org_app.command("remove")
@handle_errors
def org_remove(org: str, username: str, hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("DELETE", f"/orgs/{org}/members/{username}")
    out.print(f"removed {username} from {org}")


@org_app.command("visibility")
@handle_errors
def org_visibility(namespace: str, private: Annotated[bool, typer.Option(
        "--private/--public")], hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("PUT", f"/namespaces/{namespace}/visibility", {"private": private})
    out.print(f"{namespace} is now {'private' if private else 'public'}")


@team_app.command("create")
@handle_errors
def team_create(org: str, team: str, hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("POST", f"/orgs/{org}/teams", {"name": team})
    out.print(f"created team {team} in {org}")


@team_app.command("add")
@handle_errors
def team_add(org: str, team: str, username: str, hub: HubOpt = None) -> None:
    with AccountClient(hub or default_hub_url()) as client:
        client.call("PUT", f"/orgs/{org}/teams/{team}/members/{username}")
    out.print(f"added {username} to {org}/{team}")


@team_app.command("grant")
@handle_errors
def team_grant(org: str, team: str, repository: Annotated[str, typer.Argument(
        help="A repository of the org, or '*' for the whole namespace.")],
        permission: Annotated[str, typer.Argument(help="read, write, admin or none")],
        hub: HubOpt = None) -> None:
    if permission not in ("read", "write", "admin", "none"):
        raise ConfigError("permission is read, write, admin or none")
    with AccountClient(hub or default_hub_url()) as client:
        client.call("PUT", f"/orgs/{org}/teams/{team}/grants", {
            "repository": repository, "permission": None if permission == "none" else permission})
    out.print(f"{org}/{team}: {permission} on {repository}")


@plugin_app.command("transfer")
@handle_errors
def plugin_transfer(
    plugin: Annotated[str, typer.Argument(help="The plugin to move, NS/NAME.")],
    to: Annotated[str, typer.Option("--to", help="The namespace it moves to.")],
    hub: HubOpt = None, as_json: JsonOpt = False,
) -> None:
    """Move a plugin to another namespace (you must own both). Tags, versions, stars and
    downloads move with it; signatures must be re-made for the new name."""
    namespace, sep, name = plugin.partition("/")
    if not sep or not name:
        raise ConfigError(f"{plugin!r} is not NS/NAME")
    with AccountClient(hub or default_hub_url()) as client:
        result = client.call("POST", f"/plugins/{namespace}/{name}/transfer",
                             {"to_namespace": to})
    lines = [f"moved {result['source']} to {result['destination']} "
             f"({result['tags']} tags, {result['versions']} versions)"]
    if result["signatures_dropped"]:
        lines.append("signatures named the old repository: sign the versions again")
    _print(result, as_json, lines)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
    app.add_typer(token_app, name="token")
    app.add_typer(org_app, name="org")
    app.add_typer(team_app, name="team")
    app.add_typer(plugin_app, name="plugin")
