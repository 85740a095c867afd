"""Envoy fleet verbs: ``rollout status|history|undo`` and ``status --envoy``.

A fleet deployment is set with ``wasmhub deploy envoy REF --xds --apply`` (cli/deploy.py),
which renders the proxies' bootstrap and registers the deployment on the hub; these
commands read and steer it through the REST API (``/api/v1/fleet``), with the credentials
``wasmhub login`` saved (reads of public namespaces work without).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from wasmhub.cli.console import out
from wasmhub.cli.options import HubOpt, JsonOpt

rollout_app = typer.Typer(help="Envoy fleet rollouts (ECDS): status, history, undo.",
                          no_args_is_help=True)
NamespaceOpt = Annotated[str, typer.Option(
    "--namespace", "-n", help="The deployment's namespace (default: library).")]


def _client(hub: str | None, anonymous_ok: bool = True) -> Any:
    from wasmhub.client.account import AccountClient
    from wasmhub.client.hub import default_hub_url

    return AccountClient(hub or default_hub_url(), anonymous_ok=anonymous_ok)


def _revision(rev: dict[str, Any] | None) -> str:
    if not rev:
        return "-"
    label = rev.get("tag") or rev["digest"][:19]
    return f"{rev['revision']} ({rev['plugin']}:{label})"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.print(line.rstrip(), markup=False, overflow="ignore", crop=False)


def _node_rows(nodes: list[dict[str, Any]], resource: str | None) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("NODE", "CLUSTER", "ENVOY", "STATE", "RESOURCE", "ACKED",
                                    "NACKED", "ERROR")]
    for n in nodes:
        state = "stale" if n["stale"] else "connected"
        configs = [c for c in n["configs"] if resource is None or c["resource"] == resource]
        for c in configs or [{}]:
            error = c.get("nack_error") or c.get("held") or ""
            rows.append((n["node_id"], n["cluster"] or "-", n["envoy_version"] or "-", state,
                         c.get("resource", "-"), str(c.get("acked_revision") or "-"),
                         str(c.get("nacked_revision") or "-"), error or "-"))
    return rows


def _read(hub: str | None, path: str, as_json: bool) -> Any:
    """GET ``path`` of the hub's API; with ``--json`` print it and return None."""
    with _client(hub) as client:
        data = client.call("GET", path)
    if as_json:
        out.print_json(json.dumps(data))
        return None
    return data


@rollout_app.command("status")
def rollout_status(name: str, namespace: NamespaceOpt = "library", hub: HubOpt = None,
                   as_json: JsonOpt = False) -> None:
    """A fleet deployment's rollout: state, stable and candidate revisions, every node."""
    view = _read(hub, f"/fleet/deployments/{namespace}/{name}", as_json)
    if view is None:
        return
    out.print(f"{view['resource']}: {view['state']} — {view['message']}", markup=False)
    out.print(f"stable:    {_revision(view['stable'])}", markup=False)
    out.print(f"candidate: {_revision(view['candidate'])}", markup=False)
    if view.get("stage_nodes") is not None:
        out.print(f"stage:     {', '.join(view['stage_nodes'])}", markup=False)
    if view["nodes"]:
        _table(_node_rows(view["nodes"], view["resource"]))
    else:
        out.print("no node has subscribed yet")


@rollout_app.command("history")
def rollout_history(name: str, namespace: NamespaceOpt = "library", hub: HubOpt = None,
                    as_json: JsonOpt = False) -> None:
    """Every revision of a fleet deployment, newest first."""
    revisions = _read(hub, f"/fleet/deployments/{namespace}/{name}/revisions", as_json)
    if revisions is None:
        return
    rows: list[tuple[str, ...]] = [("REVISION", "PLUGIN", "TAG", "DIGEST", "REASON", "BY")]
    rows += [(str(r["revision"]), r["plugin"], r["tag"] or "-", r["digest"][:19], r["reason"],
              r["created_by"]) for r in revisions]
    _table(rows)


@rollout_app.command("undo")
def rollout_undo(name: str, namespace: NamespaceOpt = "library", hub: HubOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Withdraw the running rollout, or roll back to the revision stable before."""
    with _client(hub, anonymous_ok=False) as client:
        view = client.call("POST", f"/fleet/deployments/{namespace}/{name}/undo")
    if as_json:
        out.print_json(json.dumps(view))
        return
    out.print(f"{view['resource']}: {view['state']} — {view['message']}", markup=False)


def envoy_status(hub: str | None, as_json: bool) -> None:
    """``wasmhub status --envoy``: every fleet deployment and every node, from the hub."""
    fleet = _read(hub, "/fleet", as_json)
    if fleet is None:
        return
    xds = fleet["xds"]
    out.print(f"xDS: {xds['address'] if xds['enabled'] else 'off (serve --xds-port)'}",
              markup=False)
    if fleet["deployments"]:
        rows: list[tuple[str, ...]] = [("DEPLOYMENT", "STATE", "STABLE", "CANDIDATE")]
        rows += [(d["resource"], d["state"], _revision(d["stable"]), _revision(d["candidate"]))
                 for d in fleet["deployments"]]
        _table(rows)
    else:
        out.print("no fleet deployments")
    if fleet["nodes"]:
        _table(_node_rows(fleet["nodes"], None))
    else:
        out.print("no Envoy has connected")


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")
