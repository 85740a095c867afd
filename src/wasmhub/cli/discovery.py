"""Discovery verbs: ``search`` (the catalog API of a wasmhub) and ``list`` (a hub or any registry).

Tables are laid out for an 80-column terminal: names and versions never wrap, the
description takes what is left and ends in an ellipsis; ``--json`` has everything.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from wasmhub.cli.artifacts import InsecureOpt, emit_json, handle_errors
from wasmhub.cli.console import err, out
from wasmhub.cli.options import HubOpt, JsonOpt
from wasmhub.client.hub import HubClient, default_hub_url
from wasmhub.client.registry import RegistryClient
from wasmhub.errors import NotFoundError


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("en") or next(iter(value.values()), "") or "")
    return "" if value is None else str(value)


MIN_DESCRIPTION = 20
DROP_ORDER = ("pulls", "stars", "types", "ABI")  # given up, in this order, on narrow screens


def _plugin_table(items: list[dict[str, Any]], title: str, width: int) -> Table:
    """Columns sized to their content; the description gets the rest of ``width``.

    When the terminal is too narrow for a readable description, the least useful columns
    go first (``--json`` always has them all).
    """
    headers = ["plugin", "version", "ABI", "types", "stars", "pulls"]
    rows = [{"plugin": f"{item.get('namespace')}/{item.get('name')}",
             "version": _text(item.get("latest_version")),
             "ABI": _text(item.get("abi_version")) or "-",
             "types": ",".join(item.get("filter_types") or []),
             "stars": str(item.get("stars", 0)), "pulls": str(item.get("downloads", 0)),
             "description": " ".join(_text(item.get("description")).split())}
            for item in items]
    widths = {h: max([len(h), *(len(r[h]) for r in rows)]) for h in headers}

    def spare() -> int:  # SIMPLE_HEAD without edges: 3 characters between columns
        return width - sum(widths[h] for h in headers) - 3 * len(headers)

    for column in DROP_ORDER:
        if spare() >= MIN_DESCRIPTION:
            break
        headers.remove(column)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True, min_width=widths[header],
                         justify="right" if header in ("stars", "pulls") else "left")
    room = spare()
    if room >= 8:
        headers.append("description")
        table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=room)
    for row in rows:
        table.add_row(*(row[h] for h in headers))
    return table


@handle_errors
def search(
    query: Annotated[str, typer.Argument(help="Words to look for.")],
    hub: HubOpt = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    abi: Annotated[str | None, typer.Option(help="Only this ABI version, e.g. 0.2.1.")] = None,
    filter_type: Annotated[str | None, typer.Option(help="http or network.")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=100)] = 20,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the plugin catalog of a wasmhub."""
    with HubClient(hub or default_hub_url(), insecure=insecure) as client:
        result = client.search(query, page=page, per_page=per_page, category=category,
                               abi=abi, filter_type=filter_type)
    if as_json:
        emit_json({"items": result.items, "total": result.total, "page": result.page,
                   "per_page": result.per_page})
        return
    if not result.items:
        out.print(f"no plugins match {query!r}")
        return
    if result.corrected:
        err.print(f"nothing matched {query!r} as typed; showing results for {result.corrected}")
    out.print(_plugin_table(result.items, f"{result.total} plugin(s) matching {query!r}",
                            out.width))


def _registry_listing(host: str, insecure: bool) -> list[dict[str, Any]]:
    listing: list[dict[str, Any]] = []
    with RegistryClient(host, insecure=insecure) as client:
        for repo in client.catalog():
            try:
                tags = sorted(client.list_tags(repo))
            except NotFoundError:  # blobs but no tagged manifest yet
                tags = []
            listing.append({"repository": repo, "tags": tags})
    return listing


@handle_errors
def list_(
    hub: HubOpt = None,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List the plugins of a hub, or the repositories and tags of a plain OCI registry."""
    with HubClient(hub or default_hub_url(), insecure=insecure) as client:
        if client.is_catalog():
            items: list[dict[str, Any]] = []
            page = 1
            while True:
                result = client.search("", page=page, per_page=100, sort="updated")
                items.extend(result.items)
                if not result.items or len(items) >= result.total:
                    break
                page += 1
            if as_json:
                emit_json({"kind": "catalog", "hub": client.base_url, "items": items})
            else:
                out.print(_plugin_table(items, f"{len(items)} plugin(s) on {client.base_url}",
                                        out.width))
            return
        host = client.registry_host
    repos = _registry_listing(host, insecure)
    if as_json:
        emit_json({"kind": "registry", "registry": host, "repositories": repos})
        return
    table = Table(title=f"{len(repos)} repositories on {host}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("repository", no_wrap=True)
    table.add_column("tags", overflow="fold")
    for repo in repos:
        table.add_row(repo["repository"], ", ".join(repo["tags"]))
    out.print(table)




def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command("list")(list_)
