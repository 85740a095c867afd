"""Artifact verbs ``login``, ``logout``, ``push``, ``tag``, and what every artifact verb shares.

``pull`` lives in ``cli.pulling``, ``inspect`` in ``cli.inspecting``, ``search`` and
``list`` in ``cli.discovery``; they use the helpers here (error mapping, references,
progress bars).

They talk to any OCI registry through ``wasmhub.client.RegistryClient`` (credentials from
Docker's ``config.json``) and to a wasmhub catalog through ``HubClient``; images are packed
and unpacked by ``wasmhub.wasm``. Transfers show Rich progress bars on stderr; every table
has a ``--json`` twin on stdout. Errors are one line on stderr; exit 1 for a failed
operation, 2 for bad usage (a malformed reference, a bad config).
"""

from __future__ import annotations

import functools
import json
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

from wasmhub.cli.console import err, fail, out
from wasmhub.cli.options import JsonOpt
from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.hub import HubClient, default_hub_url
from wasmhub.client.project import collect_project
from wasmhub.client.registry import RegistryClient
from wasmhub.client.transfer import TransferCallback, copy_image, push_image
from wasmhub.errors import (
    AuthenticationError,
    ConfigError,
    WasmhubError,
)
from wasmhub.oci.reference import Reference, ReferenceInvalid

if TYPE_CHECKING:
    from wasmhub.wasm.layouts import PackedImage

P = ParamSpec("P")
R = TypeVar("R")

InsecureOpt = Annotated[bool, typer.Option(
    "--insecure", help="Skip TLS verification and allow plain HTTP to the registry.")]


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


URL_SCHEMES = ("http://", "https://")


def parse_ref(text: str) -> Reference:
    """A reference; without a host it names a repository on the default hub.

    ``http://host/repo:tag`` and ``https://...`` are accepted as the reference without its
    scheme (see :func:`plain_http` for what ``http://`` asks for).
    """
    bare = text.strip()
    for scheme in URL_SCHEMES:
        if bare.lower().startswith(scheme):
            bare = bare[len(scheme):]
            break
    hub_host = HubClient(default_hub_url()).registry_host
    return Reference.parse(bare, default_registry=hub_host)


def plain_http(text: str, ref: Reference, insecure: bool) -> bool:
    """``--insecure`` as the registry client takes it: ``http://`` on a remote host implies it."""
    if insecure or not text.strip().lower().startswith("http://") or ref.is_loopback:
        return insecure
    err.print(f"note: http:// given, so plain HTTP (no TLS) to {ref.registry}")
    return True


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
    reference: Annotated[str, typer.Argument(
        help="host[:port]/repository:tag (http:// or https:// may precede it)")],
    layout: Annotated[Format, typer.Option(
        "--format", "-f", help="Image layout; compat loads everywhere.")] = Format.compat,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Pack a module (and plugin.yaml, READMEs, icon) as an OCI image and push it."""
    if not source.exists() and Path(reference).exists():
        raise ConfigError(f"{source} does not exist; the module or project comes first: "
                          f"wasmhub push {reference} {source}")
    ref = parse_ref(reference)
    insecure = plain_http(reference, ref, insecure)
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


def register(app: typer.Typer) -> None:
    for verb in (login, logout, push, tag):
        app.command()(verb)
