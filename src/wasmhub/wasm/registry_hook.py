"""Registry push hook: vet Wasm plugin images as they are pushed, and analyse them.

``analyse_manifest`` turns a manifest (plus a way to fetch its blobs) into a
:class:`PluginAnalysis` (layout, unpacked files, inspector report, plugin.yaml metadata,
compatibility verdicts) or ``None`` for content that is not a Wasm plugin image; the
catalog reuses it. ``make_plugin_validator`` wraps it as a veto subscriber for
``ManifestPushed``: a plugin image with a corrupt layer, a non-Wasm module or an invalid
plugin.yaml raises ``InputError`` and the registry refuses the push.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from wasmhub.events import Event, ManifestPushed
from wasmhub.wasm.compat import CompatibilityVerdict, compatibility
from wasmhub.wasm.errors import LayoutError, PluginYamlError, WasmFormatError
from wasmhub.wasm.layouts import FetchBlob, ImageLayout, UnpackedPlugin, detect_layout, unpack
from wasmhub.wasm.plugin_yaml import PluginMetadata, load_plugin_yaml
from wasmhub.wasm.report import ModuleReport, inspect_module

# (repository, digest) -> blob bytes; raise NotFoundError when missing.
RepositoryBlobFetcher = Callable[[str, str], bytes]


@dataclass(frozen=True)
class PluginAnalysis:
    layout: ImageLayout
    plugin: UnpackedPlugin
    report: ModuleReport
    metadata: PluginMetadata | None
    verdicts: tuple[CompatibilityVerdict, ...]


def analyse_manifest(manifest_bytes: bytes, fetch_blob: FetchBlob) -> PluginAnalysis | None:
    """Analyse a pushed manifest; None when it is not a Wasm plugin image.

    Raises ``LayoutError``, ``WasmFormatError`` or ``PluginYamlError`` (all ``InputError``)
    when it is a plugin image but a broken one.
    """
    try:
        doc = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        return None  # the registry validates manifests itself; not ours to judge
    if not isinstance(doc, dict):
        return None
    layout = detect_layout(doc)
    if layout is None:
        return None
    plugin = unpack(manifest_bytes, fetch_blob)
    try:
        report = inspect_module(plugin.module)
    except WasmFormatError as exc:
        raise WasmFormatError(
            f"{exc.problem} (in the {layout} image's module)", exc.offset
        ) from exc
    metadata = None
    if plugin.files.plugin_yaml is not None:
        try:
            metadata = load_plugin_yaml(plugin.files.plugin_yaml)
        except PluginYamlError as exc:
            raise PluginYamlError(exc.path, f"{exc.problem} (in the image's plugin.yaml)") from exc
    return PluginAnalysis(layout, plugin, report, metadata, tuple(compatibility(report)))


def make_plugin_validator(fetch_blob: RepositoryBlobFetcher) -> Callable[[Event], None]:
    """A veto subscriber: ``hub.events.subscribe(make_plugin_validator(f), veto=True)``."""

    def validate(event: Event) -> None:
        if not isinstance(event, ManifestPushed):
            return
        repository = event.repository
        analyse_manifest(event.payload, lambda digest: fetch_blob(repository, digest))

    return validate


__all__ = [
    "LayoutError",
    "PluginAnalysis",
    "RepositoryBlobFetcher",
    "analyse_manifest",
    "make_plugin_validator",
]
