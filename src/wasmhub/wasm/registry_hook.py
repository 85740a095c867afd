"""Registry push hook: vet Wasm plugin images as they are pushed, and analyse them once.

``analyse_manifest`` turns a manifest (plus a way to fetch its blobs) into a
:class:`PluginAnalysis` (layout, unpacked files, inspector report, plugin.yaml metadata,
compatibility verdicts) or ``None`` for content that is not a Wasm plugin image.
:class:`PluginAnalyser` is the process's one entry point to it: it applies the module
size limit (``max_module_bytes``) and lets at most ``max_concurrent_unpacks`` analyses
run at once (others wait), so parallel pushes cannot multiply the memory one unpack
takes. ``make_plugin_validator`` wraps it as a veto subscriber for ``ManifestPushed``: a
plugin image with a corrupt layer, a non-Wasm module, a module over the limit or an
invalid plugin.yaml raises ``InputError`` and the registry refuses the push; an accepted
plugin image's event is handed on *with its analysis attached* (``event.analysis``), so
the catalog indexes it without unpacking the layers again. A pusher that has analysed
the exact manifest bytes already (add-by-URL) passes its analysis in and nothing is
unpacked a second time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from wasmhub.events import Event, ManifestPushed
from wasmhub.wasm.compat import CompatibilityVerdict, compatibility
from wasmhub.wasm.errors import LayoutError, PluginYamlError, WasmFormatError
from wasmhub.wasm.layouts import (
    DEFAULT_MAX_MODULE_BYTES,
    FetchBlob,
    ImageLayout,
    UnpackedPlugin,
    detect_layout,
    unpack,
)
from wasmhub.wasm.plugin_yaml import PluginMetadata, load_plugin_yaml
from wasmhub.wasm.report import ModuleReport, inspect_module

# (repository, digest) -> blob bytes; raise NotFoundError when missing.
RepositoryBlobFetcher = Callable[[str, str], bytes]


def manifest_sha256(manifest_bytes: bytes) -> str:
    return "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()


@dataclass(frozen=True)
class PluginAnalysis:
    layout: ImageLayout
    plugin: UnpackedPlugin
    report: ModuleReport
    metadata: PluginMetadata | None
    verdicts: tuple[CompatibilityVerdict, ...]
    # sha256 of the manifest bytes analysed: an analysis travels only with its manifest.
    manifest_sha256: str = ""

    def describes(self, manifest_bytes: bytes) -> bool:
        return self.manifest_sha256 == manifest_sha256(manifest_bytes)


def is_plugin_manifest(manifest_bytes: bytes) -> bool:
    """Cheap check (no blob read): does this manifest use a Wasm plugin layout?"""
    try:
        doc = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        return False  # the registry validates manifests itself; not ours to judge
    return isinstance(doc, dict) and detect_layout(doc) is not None


def analyse_manifest(
    manifest_bytes: bytes, fetch_blob: FetchBlob, *,
    max_module_bytes: int = DEFAULT_MAX_MODULE_BYTES,
) -> PluginAnalysis | None:
    """Analyse a pushed manifest; None when it is not a Wasm plugin image.

    Raises ``LayoutError``, ``WasmFormatError`` or ``PluginYamlError`` (all ``InputError``)
    when it is a plugin image but a broken one, or one whose module exceeds
    ``max_module_bytes``.
    """
    if not is_plugin_manifest(manifest_bytes):
        return None
    plugin = unpack(manifest_bytes, fetch_blob, max_module_bytes=max_module_bytes)
    layout = plugin.layout
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
    return PluginAnalysis(
        layout, plugin, report, metadata, tuple(compatibility(report)),
        manifest_sha256(manifest_bytes),
    )


class PluginAnalyser:
    """The process's plugin analysis: module size limit and bounded parallel unpacking.

    Built once per hub (``Hub.analyser``); thread-safe.
    """

    def __init__(self, *, max_module_bytes: int, max_concurrent: int) -> None:
        self.max_module_bytes = max_module_bytes
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)

    @property
    def max_blob_bytes(self) -> int:
        """The largest blob a plugin image may need read (its compressed module layer)."""
        from wasmhub.wasm.tarball import TAR_OVERHEAD_BYTES

        return self.max_module_bytes + TAR_OVERHEAD_BYTES

    def analyse(self, manifest_bytes: bytes, fetch_blob: FetchBlob) -> PluginAnalysis | None:
        """:func:`analyse_manifest` within the limits; waits for a free slot to unpack."""
        if not is_plugin_manifest(manifest_bytes):
            return None  # no blob is read for other content: no slot needed
        with self._slots:
            return analyse_manifest(
                manifest_bytes, fetch_blob, max_module_bytes=self.max_module_bytes
            )


    def unpack(self, manifest_bytes: bytes, fetch_blob: FetchBlob) -> UnpackedPlugin:
        """The image's module and files (no inspection), within the same limits and slots
        (the playground runs a stored version's module this way)."""
        with self._slots:
            return unpack(manifest_bytes, fetch_blob, max_module_bytes=self.max_module_bytes)


def make_plugin_validator(
    fetch_blob: RepositoryBlobFetcher, analyser: PluginAnalyser | None = None
) -> Callable[[Event], Event | None]:
    """A veto subscriber: ``hub.events.subscribe(make_plugin_validator(f), veto=True)``.

    Returns the event with its analysis attached for a plugin image (None otherwise).
    """
    chosen = analyser or PluginAnalyser(
        max_module_bytes=DEFAULT_MAX_MODULE_BYTES, max_concurrent=2
    )

    def validate(event: Event) -> Event | None:
        if not isinstance(event, ManifestPushed):
            return None
        if event.analysis is not None and event.analysis.describes(event.payload):
            return None  # the pusher analysed these very bytes within the same limits
        repository = event.repository
        analysis = chosen.analyse(event.payload, lambda digest: fetch_blob(repository, digest))
        return dataclasses.replace(event, analysis=analysis)

    return validate


__all__ = [
    "LayoutError",
    "PluginAnalyser",
    "PluginAnalysis",
    "RepositoryBlobFetcher",
    "analyse_manifest",
    "is_plugin_manifest",
    "make_plugin_validator",
]
