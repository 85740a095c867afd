"""Artifact verbs: ``login``, ``logout``, ``push``, ``pull``, ``tag``, ``inspect``, ``search``,
``list``.

They talk to any OCI registry through ``wasmhub.client.RegistryClient`` (credentials from
Docker's ``config.json``) and to a wasmhub catalog through ``HubClient``; images are packed
and unpacked by ``wasmhub.wasm``. Transfers show Rich progress bars on stderr; every table
has a ``--json`` twin on stdout. Errors are one line on stderr; exit 1 for a failed
operation, 2 for bad usage (a malformed reference, a bad config).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from wasmhub.cli.console import err, fail, out
from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.errors import RegistryError
from wasmhub.client.hub import HubClient, default_hub_url
from wasmhub.client.project import ICON_EXTENSIONS, collect_project
from wasmhub.client.registry import RegistryClient
from wasmhub.client.transfer import BlobFetcher, TransferCallback, copy_image, push_image
from wasmhub.errors import (
    AuthenticationError,
    ConfigError,
    InputError,
    NotFoundError,
    WasmhubError,
)
from wasmhub.oci.reference import Reference, ReferenceInvalid

if TYPE_CHECKING:
    from wasmhub.wasm.layouts import PackedImage, UnpackedPlugin
    from wasmhub.wasm.report import ModuleReport

P = ParamSpec("P")
R = TypeVar("R")

InsecureOpt = Annotated[bool, typer.Option(
    "--insecure", help="Skip TLS verification and allow plain HTTP to the registry.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
HubOpt = Annotated[str | None, typer.Option(
    "--hub", help="Hub URL [WASMHUB_HUB_URL], default http://127.0.0.1:5080.")]


class Format(StrEnum):
    compat = "compat"
    oci = "oci"
    cncf = "cncf"
    docker = "docker"


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn wasmhub errors into one stderr line and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ConfigError, ReferenceInvalid) as exc:
            fail(exc.message, code=2)
        except WasmhubError as exc:
            fail(exc.message, code=1)

    return wrapper


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_ref(text: str) -> Reference:
    """A reference; without a host it names a repository on the default hub."""
    hub_host = HubClient(default_hub_url()).registry_host
    return Reference.parse(text, default_registry=hub_host)


def registry_host(text: str) -> str:
    host = text.strip()
    for prefix in ("https://", "http://", "oci://"):
        host = host.removeprefix(prefix)
    host = host.split("/", 1)[0]
    if not host:
        raise ConfigError("name a registry host, e.g. wasmhub login 127.0.0.1:5080")
    return host


@contextmanager
def transfer_progress(enabled: bool = True) -> Iterator[TransferCallback | None]:
    """A Rich progress display on stderr and the callback that feeds it."""
    if not enabled or not err.is_terminal:
        yield None
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), console=err, transient=True)
    tasks: dict[str, TaskID] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=total)
        progress.update(tasks[label], completed=done, total=total)

    with progress:
        yield update


# -- login / logout ------------------------------------------------------------------------


@handle_errors
def login(
    registry: Annotated[str, typer.Argument(help="Registry host[:port].")],
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password: Annotated[str | None, typer.Option(
        "--password", "-p", help="Prefer --password-stdin; this shows in `ps`.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password (or token) from stdin.")] = False,
    insecure: InsecureOpt = False,
) -> None:
    """Check credentials against a registry and save them in Docker's config.json."""
    host = registry_host(registry)
    if password_stdin and password is not None:
        raise ConfigError("give either --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if username is None:
            raise ConfigError("--password-stdin needs --username")
    elif password is not None:
        err.print("warning: --password is visible to other users; use --password-stdin")
    if username is None:
        username = typer.prompt("Username")
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    if not username or not password:
        raise ConfigError("username and password must not be empty")
    credential = Credential(username, password)
    with RegistryClient(host, credential=credential, use_docker_config=False,
                        insecure=insecure) as client:
        try:
            client.ping()
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"login to {host} failed: the registry refused {username!r}"
                f" ({exc.message.split(': ', 1)[-1].split(' (run')[0]})") from exc
    where = DockerConfig().store(host, credential)
    out.print(f"Login succeeded for {username} at {host} (saved in {where})")


@handle_errors
def logout(registry: Annotated[str, typer.Argument(help="Registry host[:port].")]) -> None:
    """Remove saved credentials for a registry."""
    host = registry_host(registry)
    if DockerConfig().erase(host):
        out.print(f"Removed credentials for {host}")
    else:
        out.print(f"Not logged in to {host}")


# -- push / pull / tag ----------------------------------------------------------------------


def _packed_image(source: Path, layout: Format) -> tuple[PackedImage, dict[str, Any]]:
    from wasmhub.wasm.errors import PluginYamlError

    try:
        return _pack_source(source, layout)
    except PluginYamlError as exc:
        raise PluginYamlError("", f"{source / 'plugin.yaml'}: {exc.message}") from exc


def _pack_source(source: Path, layout: Format) -> tuple[PackedImage, dict[str, Any]]:
    from wasmhub.wasm.layouts import Blob, ImageLayout, PluginFiles, pack

    image_layout = ImageLayout(layout.value)
    info: dict[str, Any] = {"source": str(source), "files": []}
    if source.is_dir():
        project = collect_project(source)
        icon = (Blob(project.icon_media_type or "image/png", project.icon)
                if project.icon is not None else None)
        files = PluginFiles(plugin_yaml=project.plugin_yaml, readme=project.readme, icon=icon)
        info["module"] = str(project.module_path)
        names = [*(["plugin.yaml"] if project.plugin_yaml is not None else []),
                 *(f"README ({lang})" for lang in sorted(project.readme)),
                 *([project.icon_path.name] if project.icon_path is not None else [])]
        if image_layout is not ImageLayout.COMPAT and names:
            # Only compat carries metadata layers; plugin.yaml still names the root id.
            err.print(f"warning: the {layout.value} layout cannot carry {', '.join(names)};"
                      " pushing the module only (use --format compat to include them)")
            root = _root_id(project.plugin_yaml)
            return pack(project.module, image_layout, root_ids=root), info
        info["files"] = names
        return pack(project.module, image_layout, metadata=files), info
    if source.is_file():
        info["module"] = str(source)
        return pack(source.read_bytes(), image_layout), info
    raise ConfigError(f"{source} does not exist")


def _root_id(plugin_yaml: bytes | None) -> tuple[str, ...]:
    if plugin_yaml is None:
        return ()
    from wasmhub.wasm.plugin_yaml import load_plugin_yaml

    root = load_plugin_yaml(plugin_yaml).spec.root_id
    return (root,) if root else ()


@handle_errors
def push(
    source: Annotated[Path, typer.Argument(help="A .wasm module or a plugin project dir.")],
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag]")],
    layout: Annotated[Format, typer.Option(
        "--format", "-f", help="Image layout; compat loads everywhere.")] = Format.compat,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Pack a module (and plugin.yaml, READMEs, icon) as an OCI image and push it."""
    ref = parse_ref(reference)
    image, info = _packed_image(source, layout)
    with RegistryClient(ref.registry, insecure=insecure) as client, \
            transfer_progress(not as_json) as progress:
        result = push_image(client, ref, image, progress)
    data = {**info, "reference": str(ref), "digest": result.digest, "layout": layout.value,
            "manifest_size": result.size, "uploaded": list(result.uploaded),
            "skipped": list(result.skipped)}
    if as_json:
        emit_json(data)
        return
    err.print(f"uploaded {len(result.uploaded)} blob(s), {len(result.skipped)} already present")
    out.print(f"pushed {ref} ({layout.value})")
    out.print(f"digest: {result.digest}")


def _fetch_plugin(client: RegistryClient, ref: Reference,
                  progress: TransferCallback | None) -> tuple[UnpackedPlugin, str]:
    """(UnpackedPlugin, manifest digest) for a reference; every blob digest is verified."""
    from wasmhub.wasm.layouts import unpack

    manifest = client.get_manifest(ref.repository, ref.reference)
    if manifest.is_index:
        children = manifest.json().get("manifests") or []
        if not children:
            raise RegistryError(f"{ref} is an empty image index", status=404)
        wasm_child = next((c for c in children if (c.get("platform") or {}).get(
            "architecture") == "wasm"), children[0])
        manifest = client.get_manifest(ref.repository, str(wasm_child["digest"]))
    fetcher = BlobFetcher(client, ref.repository, progress)
    try:
        return unpack(manifest.payload, fetcher), manifest.digest
    except InputError as exc:
        raise InputError(f"{ref}: {exc.message}") from exc


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@handle_errors
def pull(
    reference: Annotated[str, typer.Argument(help="host[:port]/repository[:tag|@digest]")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Module file to write (default <name>.wasm).")] = None,
    all_files: Annotated[bool, typer.Option(
        "--all", help="Also write plugin.yaml, READMEs and the icon next to it.")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Refuse it unless a signature verifies (with --key, else the "
        "hub's trusted keys of its namespace).")] = False,
    key: Annotated[list[str] | None, typer.Option(
        "--key", "-k", help="Public key for --verify (store name or PEM); repeatable.")
    ] = None,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a plugin image and write its Wasm module (verified first when asked or when
    the namespace's trust policy requires it)."""
    from wasmhub.cli.trust_checks import verified_digest

    ref = parse_ref(reference)
    with RegistryClient(ref.registry, insecure=insecure) as client, \
            transfer_progress(not as_json) as progress:
        checked, report = verified_digest(client, ref, verify=verify or bool(key), keys=key,
                                          insecure=insecure)
        plugin, digest = _fetch_plugin(client, ref.with_digest(checked), progress)
    target = output or Path(f"{ref.name}.wasm")
    if target.is_dir():
        target = target / f"{ref.name}.wasm"
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, plugin.module)
    written = [str(target)]
    if all_files:
        files = plugin.files
        extra: list[tuple[str, bytes]] = []
        if files.plugin_yaml is not None:
            extra.append(("plugin.yaml", files.plugin_yaml))
        for lang, text in sorted(files.readme.items()):
            extra.append(("README.md" if lang == "en" else f"README.{lang}.md", text))
        if files.icon is not None:
            ext = ICON_EXTENSIONS.get(files.icon.media_type.split(";")[0], ".bin")
            extra.append((f"icon{ext}", files.icon.data))
        for name, content in extra:
            _write(target.parent / name, content)
            written.append(str(target.parent / name))
    from hashlib import sha256

    data = {"reference": str(ref), "digest": digest, "layout": str(plugin.layout),
            "module": str(target), "module_digest": "sha256:" + sha256(plugin.module).hexdigest(),
            "size": len(plugin.module), "files": written,
            "signed_by": [v.key.label for v in report.signatures] if report else None}
    if as_json:
        emit_json(data)
        return
    out.print(f"pulled {ref}@{digest} ({plugin.layout})")
    if report is not None:
        out.print("verified: signed by " + ", ".join(v.key.label for v in report.signatures))
    for path in written:
        out.print(f"wrote {path}")


@handle_errors
def tag(
    source: Annotated[str, typer.Argument(help="Existing image reference.")],
    target: Annotated[str, typer.Argument(help="New reference (same or other repository).")],
    insecure: InsecureOpt = False,
) -> None:
    """Point a new tag at an existing image, copying blobs across repositories."""
    src, dst = parse_ref(source), parse_ref(target)
    with RegistryClient(src.registry, insecure=insecure) as src_client:
        if dst.registry == src.registry:
            digest = copy_image(src_client, src, src_client, dst)
        else:
            with RegistryClient(dst.registry, insecure=insecure) as dst_client, \
                    transfer_progress() as progress:
                digest = copy_image(src_client, src, dst_client, dst, progress)
    out.print(f"tagged {dst} -> {digest}")


# -- inspect -------------------------------------------------------------------------------


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
    target: Annotated[str, typer.Argument(help="A .wasm file or an image reference.")],
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Describe a module: ABI, filter types, host imports per ABI, WASI, language."""
    from wasmhub.wasm import inspect_module

    path = Path(target)
    extra: dict[str, Any] = {}
    if path.exists():
        if path.is_dir():
            raise ConfigError(f"{path} is a directory; give the .wasm file")
        module, title = path.read_bytes(), str(path)
    else:
        ref = parse_ref(target)
        with RegistryClient(ref.registry, insecure=insecure) as client, \
                transfer_progress(not as_json) as progress:
            plugin, digest = _fetch_plugin(client, ref, progress)
        module, title = plugin.module, f"{ref.name}.wasm"
        extra = {"reference": str(ref.with_digest(digest)), "layout": str(plugin.layout)}
    report = inspect_module(module)
    data = {**report.to_json(), **extra}
    compat = _compatibility(report)
    if compat is not None:
        data["compatibility"] = compat
    if as_json:
        emit_json(data)
    else:
        _print_report(title, data)


# -- search / list ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("en") or next(iter(value.values()), "") or "")
    return "" if value is None else str(value)


def _plugin_table(items: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("plugin", no_wrap=True)
    table.add_column("version", no_wrap=True)
    for column in ("ABI", "types", "stars", "downloads", "description"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            f"{item.get('namespace')}/{item.get('name')}", _text(item.get("latest_version")),
            _text(item.get("abi_version")), ", ".join(item.get("filter_types") or []),
            str(item.get("stars", 0)), str(item.get("downloads", 0)),
            _text(item.get("description")),
        )
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
    out.print(_plugin_table(result.items, f"{result.total} plugin(s) matching {query!r}"))


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
                out.print(_plugin_table(items, f"{len(items)} plugin(s) on {client.base_url}"))
            return
        host = client.registry_host
    repos = _registry_listing(host, insecure)
    if as_json:
        emit_json({"kind": "registry", "registry": host, "repositories": repos})
        return
    table = Table(title=f"{len(repos)} repositories on {host}", title_justify="left")
    table.add_column("repository")
    table.add_column("tags", overflow="fold")
    for repo in repos:
        table.add_row(repo["repository"], ", ".join(repo["tags"]))
    out.print(table)


def register(app: typer.Typer) -> None:
    for verb in (login, logout, push, pull, tag, inspect, search):
        app.command()(verb)
    app.command("list")(list_)
