"""``wasmhub seed``: publish the sample plugins under examples/ so a new hub has a catalog.

Each ``examples/<dir>/`` with a ``plugin.yaml`` and a built ``build/plugin.wasm`` is
packed as a compat image (plugin.yaml, ``README.md`` / ``README.zh.md`` and the icon
the metadata names travel as layers) and pushed through ``RegistryService`` as
``<namespace>/<metadata.name>:<metadata.version>``. Pushing is idempotent: the same
sample publishes the same digest again. Samples that are not built are reported with
the command that builds them; when none is built, :class:`SamplesNotBuiltError`.

:func:`build_samples` builds the samples that have no module yet with their own
toolchain (``wasmhub.build``; npm installs the shared AssemblyScript toolchain in
examples/ once), so ``wasmhub seed`` on a fresh checkout ends with a living catalog; a
sample whose toolchain is missing is reported with the install hint and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wasmhub.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from wasmhub.hub import Hub

BUILD_HINT = (
    "(cd examples && npm ci) && for d in add-header auth-tenant rate-limit data-mask "
    "c-add-header; do wasmhub build examples/$d; done"
)
ICON_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


class SamplesNotBuiltError(NotFoundError):
    """No sample has a build/plugin.wasm yet."""


@dataclass
class SeedReport:
    published: list[tuple[str, str, str]] = field(default_factory=list)  # repo, tag, digest
    unbuilt: list[str] = field(default_factory=list)


def default_examples_dir() -> Path:
    """examples/ of a source checkout, else ./examples."""
    checkout = Path(__file__).resolve().parents[3] / "examples"
    return checkout if checkout.is_dir() else Path.cwd() / "examples"


def unbuilt_samples(examples: Path) -> list[Path]:
    """Sample directories (with a plugin.yaml) that have no build/plugin.wasm yet."""
    if not examples.is_dir():
        return []
    return sorted(p for p in examples.iterdir()
                  if (p / "plugin.yaml").is_file() and not (p / "build" / "plugin.wasm").is_file())


def build_samples(examples: Path, *, on_build: Callable[[str], None] | None = None,
                  sink: Callable[[str], None] | None = None) -> dict[str, str]:
    """Build every unbuilt sample; returns {sample: why it could not be built}."""
    from wasmhub.build import build_project
    from wasmhub.errors import WasmhubError

    failed: dict[str, str] = {}
    for sample in unbuilt_samples(examples):
        if on_build is not None:
            on_build(sample.name)
        try:
            build_project(sample, sink=sink or (lambda _line: None))
        except WasmhubError as exc:
            failed[sample.name] = exc.message
    return failed


def _read_optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def seed_samples(hub: Hub, examples: Path, namespace: str = "library") -> SeedReport:
    from wasmhub.registry.service import RegistryService
    from wasmhub.wasm import Blob, PluginFiles, load_plugin_yaml, pack

    if not examples.is_dir():
        raise NotFoundError(f"no examples directory at {examples}; pass --examples PATH")
    registry = RegistryService(hub)
    report = SeedReport()
    for sample in sorted(p for p in examples.iterdir() if (p / "plugin.yaml").is_file()):
        module_path = sample / "build" / "plugin.wasm"
        if not module_path.is_file():
            report.unbuilt.append(sample.name)
            continue
        plugin_yaml = (sample / "plugin.yaml").read_bytes()
        metadata = load_plugin_yaml(plugin_yaml)
        readme = {
            lang: data for lang, name in (("en", "README.md"), ("zh", "README.zh.md"))
            if (data := _read_optional(sample / name)) is not None
        }
        icon = None
        if metadata.metadata.icon:
            icon_path = sample / metadata.metadata.icon
            media_type = ICON_TYPES.get(icon_path.suffix.lower())
            if media_type is None or not icon_path.is_file():
                raise InputError(f"{sample.name}: icon {metadata.metadata.icon} is missing or "
                                 "not .png/.svg")
            icon = Blob(media_type, icon_path.read_bytes())
        files = PluginFiles(plugin_yaml=plugin_yaml, readme=readme, icon=icon)
        root_ids = (metadata.spec.root_id,) if metadata.spec.root_id else ()
        image = pack(module_path.read_bytes(), metadata=files, root_ids=root_ids)
        repository = f"{namespace}/{metadata.name}"
        for blob in image.blobs():
            registry.put_blob(repository, blob.data, blob.digest)
        digest = registry.put_manifest(
            repository, metadata.version, image.manifest, image.manifest_media_type
        )
        report.published.append((repository, metadata.version, digest))
    if not report.published:
        names = ", ".join(report.unbuilt) or "none found"
        raise SamplesNotBuiltError(
            f"no sample plugin in {examples} is built ({names}); build them with: {BUILD_HINT}"
        )
    return report
