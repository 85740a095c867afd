"""``wasmhub pull`` and the reference resolution ``pull`` and ``inspect`` share.

Safe with the user's files: ``-o DIR/`` (a trailing slash, or a directory that exists)
names a directory for ``<name>.wasm`` and, with ``--all``, plugin.yaml, the READMEs and
the icon; any other ``-o`` names the module file and the extras go beside it. Every
target is decided before anything is written, and no existing file is replaced unless
``--force`` (a file with the very same bytes counts as already written). Each written
file is printed with what it is and its size.

A reference without tag or digest takes ``latest`` when the repository has it, else its
newest version tag (semantic-version order); a tag that does not exist is reported with
the tags that do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmhub.cli.artifacts import (
    InsecureOpt,
    emit_json,
    handle_errors,
    parse_ref,
    transfer_progress,
)
from wasmhub.cli.console import err, out
from wasmhub.cli.options import JsonOpt
from wasmhub.client.errors import RegistryError, RegistryNotFoundError
from wasmhub.client.project import ICON_EXTENSIONS
from wasmhub.client.registry import RegistryClient
from wasmhub.client.transfer import BlobFetcher, TransferCallback
from wasmhub.errors import ConfigError, ConflictError, InputError, NotFoundError
from wasmhub.oci.reference import DEFAULT_TAG, Reference

if TYPE_CHECKING:
    from wasmhub.wasm.layouts import UnpackedPlugin

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+.]?(.*))?$")
_SHOWN_TAGS = 12


def _version_key(tag: str) -> tuple[int, int, int, int, str] | None:
    """Sort key of a version-like tag (``1.2.3``, ``v2.0``, ``1.0.0-rc1``), else None."""
    match = _VERSION_RE.match(tag)
    if match is None:
        return None
    major, minor, patch, rest = match.groups()
    # A release sorts after its pre-releases: 1.0.0 > 1.0.0-rc1.
    return int(major), int(minor or 0), int(patch or 0), 0 if rest else 1, rest or ""


def newest_version(tags: list[str]) -> str | None:
    versions = [(key, tag) for tag in tags if (key := _version_key(tag)) is not None]
    return max(versions)[1] if versions else None


def _tag_list(tags: list[str]) -> str:
    ordered = sorted(tags, key=lambda t: (_version_key(t) is None, _version_key(t) or (), t),
                     reverse=False)
    shown = ", ".join(ordered[:_SHOWN_TAGS])
    more = len(ordered) - _SHOWN_TAGS
    return shown + (f" (and {more} more)" if more > 0 else "")


def _tags(client: RegistryClient, ref: Reference) -> list[str]:
    try:
        return client.list_tags(ref.repository)
    except RegistryNotFoundError:
        return []


def resolve_reference(client: RegistryClient, ref: Reference) -> tuple[Reference, str | None]:
    """The reference to fetch and, when no tag was given, a note saying which was chosen."""
    if ref.tag is not None or ref.digest is not None:
        return ref, None
    tags = _tags(client, ref)
    if DEFAULT_TAG in tags:
        return ref.with_tag(DEFAULT_TAG), None
    newest = newest_version(tags)
    if newest is None:
        if not tags:
            raise NotFoundError(f"{ref}: not found; {ref.repository} does not exist on "
                                f"{ref.registry} or has no tags")
        raise NotFoundError(f"{ref} has no 'latest' tag and no version tag; "
                            f"name one of: {_tag_list(tags)}")
    return ref.with_tag(newest), f"no tag given: using the newest version, {newest}"


def _missing_tag(client: RegistryClient, ref: Reference) -> NotFoundError:
    tags = _tags(client, ref)
    if not tags:
        return NotFoundError(f"{ref}: not found; {ref.repository} does not exist on "
                             f"{ref.registry} or has no tags")
    return NotFoundError(f"{ref}: no such tag; {ref.repository} has {_tag_list(tags)}")


def fetch_plugin(client: RegistryClient, ref: Reference,
                 progress: TransferCallback | None) -> tuple[UnpackedPlugin, str]:
    """(UnpackedPlugin, manifest digest) for a resolved reference; every blob is verified."""
    from wasmhub.wasm.layouts import unpack

    try:
        manifest = client.get_manifest(ref.repository, ref.reference)
    except RegistryNotFoundError as exc:
        if ref.digest is None and ref.tag is not None:
            raise _missing_tag(client, ref) from exc
        raise
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


@dataclass(frozen=True)
class Target:
    path: Path
    what: str
    data: bytes


def plan_targets(output: str | None, name: str, plugin: UnpackedPlugin,
                 all_files: bool) -> list[Target]:
    """Every file ``pull`` will write, the module first."""
    if output is None or output.endswith(("/", os.sep)) or Path(output).is_dir():
        directory = Path(output) if output else Path(".")
        module = directory / f"{name}.wasm"
    else:
        module = Path(output)
        directory = module.parent
    targets = [Target(module, "module", plugin.module)]
    if all_files:
        files = plugin.files
        if files.plugin_yaml is not None:
            targets.append(Target(directory / "plugin.yaml", "plugin.yaml", files.plugin_yaml))
        for lang, text in sorted(files.readme.items()):
            file = "README.md" if lang == "en" else f"README.{lang}.md"
            targets.append(Target(directory / file, f"README ({lang})", text))
        if files.icon is not None:
            ext = ICON_EXTENSIONS.get(files.icon.media_type.split(";")[0], ".bin")
            targets.append(Target(directory / f"icon{ext}", "icon", files.icon.data))
    return targets


def check_targets(targets: list[Target], force: bool) -> list[Target]:
    """The targets that need writing; raises before anything is written if one is unsafe."""
    blocked = [t.path for t in targets if t.path.is_dir()]
    if blocked:
        raise ConfigError(f"{blocked[0]} is a directory; give -o a file name or DIR/")
    pending: list[Target] = []
    clobbered: list[Path] = []
    for target in targets:
        if target.path.is_file():
            if target.path.read_bytes() == target.data:
                continue
            clobbered.append(target.path)
        pending.append(target)
    if clobbered and not force:
        names = ", ".join(str(p) for p in clobbered)
        raise ConflictError(f"not overwriting {names}: it exists with other content; use "
                            "--force to replace, or -o DIR/ to write into another directory")
    return pending


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@handle_errors
def pull(
    reference: Annotated[str, typer.Argument(
        help="host[:port]/repository[:tag|@digest]; no tag: latest, else the newest version.")],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Module file to write, or DIR/ (default ./<name>.wasm).")] = None,
    all_files: Annotated[bool, typer.Option(
        "--all", help="Also write plugin.yaml, READMEs and the icon next to it.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace existing files (default: refuse, nothing written).")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Refuse it unless a signature verifies (with --key, else the "
        "hub's trusted keys of its namespace).")] = False,
    key: Annotated[list[str] | None, typer.Option(
        "--key", "-k", help="Public key for --verify (store name or PEM); repeatable.")
    ] = None,
    insecure: InsecureOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a plugin image and write its Wasm module (and with --all its files);
    verified first when asked or when the namespace's trust policy requires it."""
    from wasmhub.cli.trust_checks import verified_digest

    ref = parse_ref(reference)
    with RegistryClient(ref.registry, insecure=insecure) as client:
        ref, note = resolve_reference(client, ref)
        try:
            checked, report = verified_digest(client, ref, verify=verify or bool(key),
                                              keys=key, insecure=insecure)
        except RegistryNotFoundError as exc:
            if ref.digest is None and ref.tag is not None:
                raise _missing_tag(client, ref) from exc  # names the tags that exist
            raise
        with transfer_progress(not as_json) as progress:
            plugin, digest = fetch_plugin(client, ref.with_digest(checked), progress)
    targets = plan_targets(output, ref.name, plugin, all_files)
    pending = check_targets(targets, force)
    for target in pending:
        _write(target.path, target.data)
    module = targets[0].path
    data = {"reference": str(ref), "digest": digest, "layout": str(plugin.layout),
            "module": str(module), "module_digest": "sha256:" + sha256(plugin.module).hexdigest(),
            "size": len(plugin.module), "files": [str(t.path) for t in targets],
            "written": [str(t.path) for t in pending],
            "signed_by": [v.key.label for v in report.signatures] if report else None}
    if as_json:
        emit_json(data)
        return
    if note:
        err.print(note)
    out.print(f"pulled {ref}@{digest} ({plugin.layout})")
    if report is not None:
        out.print("verified: signed by " + ", ".join(v.key.label for v in report.signatures))
    for target in targets:
        verb = "wrote" if target in pending else "kept "
        out.print(f"{verb} {target.path}  ({target.what}, {len(target.data)} bytes)")


def register(app: typer.Typer) -> None:
    app.command()(pull)
