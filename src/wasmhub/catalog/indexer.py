"""Keeps the catalog in step with the registry: event subscriber and full reindex.

``Hub.open`` subscribes one :class:`CatalogIndexer` to ``hub.events``, so every entry
point (server, CLI) keeps the catalog current:

- ``ManifestPushed`` with a tag: the analysis the push validator attached to the event
  (``event.analysis``: layout, module report, plugin.yaml, README, icon, compatibility
  verdicts; made once per push by ``Hub.analyser``) is recorded as version *tag* of
  plugin ``namespace/name``; content that is not a Wasm plugin image removes that tag
  instead. Either happens only while the registry's tag still points at the pushed
  digest (checked under lock in the catalog's transaction), so racing pushes of one
  tag leave the catalog on what the registry holds.
- ``ManifestDeleted``: the deleted tags (or, for an untagged manifest, the digest)
  leave the catalog, unless a push has re-pointed the tag meanwhile; a plugin without
  versions disappears.
- ``ManifestFetched``: one download for the fetched version.

``CatalogIndexer.reindex()`` (``wasmhub catalog reindex``) rebuilds every version from
the stored manifests and blobs, the source of truth, and drops versions whose tags no
longer exist. Stars, download counts, deprecations, yanks and add-by-URL names are
user state and survive it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import Localized, VersionRecord
from wasmhub.errors import WasmhubError
from wasmhub.events import Event, ManifestDeleted, ManifestFetched, ManifestPushed
from wasmhub.wasm.layouts import MAX_ICON_BYTES
from wasmhub.wasm.plugin_yaml import MAX_ROOT_ID_CHARS

if TYPE_CHECKING:
    from wasmhub.catalog.downloads import DownloadBuffer
    from wasmhub.hub import Hub
    from wasmhub.registry.service import RegistryService
    from wasmhub.wasm.registry_hook import PluginAnalysis

log = logging.getLogger(__name__)

MAX_README_CHARS = 200_000
# Stored inspector facts: a module with 100k imports must not make a 10 MB row.
MAX_LISTED_ITEMS = 500
MAX_INSPECTION_BYTES = 256 * 1024


@dataclass
class ReindexReport:
    repositories: int = 0
    versions: int = 0
    skipped: int = 0  # tags whose content is not a Wasm plugin image
    removed: int = 0  # index entries whose tag no longer exists
    errors: list[str] = field(default_factory=list)


def _manifest_size(payload: bytes) -> int:
    """Manifest plus every blob it references, as a pull would transfer it."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return len(payload)
    total = len(payload)
    descriptors = [doc.get("config") or {}, *(doc.get("layers") or [])]
    seen: set[str] = set()
    for desc in descriptors:
        if isinstance(desc, dict) and desc.get("digest") not in seen:
            seen.add(str(desc.get("digest")))
            size = desc.get("size")
            total += size if isinstance(size, int) and size > 0 else 0
    return total


def _text(data: bytes | None, limit: int) -> str:
    return data.decode("utf-8", errors="replace")[:limit] if data else ""


def _bounded_inspection(inspection: dict[str, Any]) -> dict[str, Any]:
    """The report's JSON with every list cut to MAX_LISTED_ITEMS once it is too large."""
    if len(json.dumps(inspection)) <= MAX_INSPECTION_BYTES:
        return inspection
    cut = {
        key: value[:MAX_LISTED_ITEMS] if isinstance(value, list) else value
        for key, value in inspection.items()
    }
    cut["truncated"] = True
    return cut


def version_record(
    repository: str, tag: str, digest: str, media_type: str, payload: bytes,
    analysis: PluginAnalysis,
) -> VersionRecord:
    """What the catalog stores about one analysed plugin manifest."""
    report, plugin, meta = analysis.report, analysis.plugin, analysis.metadata
    info = meta.metadata if meta else None
    spec = meta.spec if meta else None
    inspection: dict[str, Any] = report.to_json()
    inspection["compatibility"] = [v.to_json() for v in analysis.verdicts]
    inspection = _bounded_inspection(inspection)
    platforms = sorted({v.platform for v in analysis.verdicts if v.status == "compatible"})
    filter_types = sorted(report.filter_types) or ([spec.filter_type.value] if spec else [])
    icon = plugin.files.icon
    icon_ok = icon is not None and icon.size <= MAX_ICON_BYTES
    return VersionRecord(
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=media_type[:255],
        layout=analysis.layout.value,
        size=_manifest_size(payload),
        display_name=Localized(
            info.display_name.en if info else "", (info.display_name.zh or "") if info else ""
        ),
        description=Localized(
            info.description.en if info else "", (info.description.zh or "") if info else ""
        ),
        category=info.category.value if info else "",
        keywords=tuple(info.keywords) if info else (),
        license=(info.license or "") if info else "",
        source=((info.source or info.homepage) or "") if info else "",
        # From runtime-config.json or annotations when plugin.yaml names none: unchecked.
        root_id=(spec.root_id if spec and spec.root_id
                 else next(iter(plugin.root_ids), ""))[:MAX_ROOT_ID_CHARS],
        phase=spec.phase.value if spec else "",
        priority=spec.priority if spec else None,
        config_schema=spec.config_schema if spec else None,
        example_config=spec.example_config if spec else None,
        abi_version=report.abi_version or "",
        is_proxy_wasm=report.is_proxy_wasm,
        filter_types=tuple(filter_types),
        imports=tuple(f"{i.module}.{i.name}" for i in report.imports[:MAX_LISTED_ITEMS]),
        wasi=report.wasi,
        language=report.language,
        platforms=tuple(platforms),
        module_sha256=report.sha256,
        module_size=report.size,
        inspection=inspection,
        readme=Localized(
            _text(plugin.files.readme.get("en"), MAX_README_CHARS),
            _text(plugin.files.readme.get("zh"), MAX_README_CHARS),
        ),
        icon_media_type=icon.media_type if icon is not None and icon_ok else None,
        icon=icon.data if icon is not None and icon_ok else None,
    )


class CatalogIndexer:
    """Turns registry events into catalog changes; see the module docstring."""

    def __init__(self, hub: Hub, catalog: CatalogService | None = None,
                 downloads: DownloadBuffer | None = None) -> None:
        self.hub = hub
        self.catalog = catalog or CatalogService(hub)
        self.downloads = downloads  # Redis-buffered counts when set, else SQL per pull
        self._registry: RegistryService | None = None
        self.analyser = hub.analyser

    @property
    def registry(self) -> RegistryService:
        if self._registry is None:
            from wasmhub.registry.service import RegistryService

            self._registry = RegistryService(self.hub)
        return self._registry

    def __call__(self, event: Event) -> None:
        if isinstance(event, ManifestPushed):
            if event.tag is not None:
                self.index_manifest(
                    event.repository, event.tag, event.digest, event.media_type, event.payload,
                    analysis=event.analysis,
                )
        elif isinstance(event, ManifestDeleted):
            if event.tags:
                self.catalog.remove_versions(
                    event.repository, tags=event.tags, unless_tag_current=True
                )
            else:
                self.catalog.remove_versions(
                    event.repository, digest=event.digest, unless_tag_current=True
                )
        elif isinstance(event, ManifestFetched):
            if self.downloads is not None:
                self.downloads.count(event.repository, event.digest, event.reference)
            else:
                self.catalog.count_download(event.repository, event.digest, event.reference)

    def index_manifest(
        self, repository: str, tag: str, digest: str, media_type: str, payload: bytes,
        *, analysis: PluginAnalysis | None = None,
    ) -> bool:
        """Record ``repository:tag`` if it is a Wasm plugin image; True when recorded.

        ``analysis``: the push's analysis of ``payload``; without one (reindex, or a
        non-plugin push) the manifest is analysed here. Nothing changes when the tag no
        longer points at ``digest``. Raises the wasm package's InputError subclasses for
        a broken plugin image.
        """
        if analysis is None or not analysis.describes(payload):
            analysis = self.analyser.analyse(
                payload, lambda d: self.hub.read_plugin_blob(repository, d)
            )
        if analysis is None:
            self.catalog.remove_versions(repository, tags=(tag,), unless_tag_current=True)
            return False
        record = version_record(repository, tag, digest, media_type, payload, analysis)
        return self.catalog.record_version(record, if_tag_current=True)

    def reindex(self) -> ReindexReport:
        """Rebuild the catalog from the registry's stored manifests."""
        report = ReindexReport()
        present: dict[str, set[str]] = {}
        for repository in self.registry.list_repositories():
            report.repositories += 1
            present[repository] = set()
            for tag in self.registry.list_tags(repository):
                present[repository].add(tag)
                try:
                    # No payload through the service: that would count a download.
                    found = self.registry.fetch_manifest(repository, tag, with_payload=False)
                    with self.hub.storage.open(found.digest) as stream:
                        payload = stream.read()
                    if self.index_manifest(
                        repository, tag, found.digest, found.media_type, payload
                    ):
                        report.versions += 1
                    else:
                        report.skipped += 1
                except WasmhubError as exc:
                    report.errors.append(f"{repository}:{tag}: {exc.message}")
                    present[repository].discard(tag)
        for repository, tags in self.catalog.indexed_tags().items():
            gone = tuple(sorted(set(tags) - present.get(repository, set())))
            if gone:
                self.catalog.remove_versions(repository, tags=gone)
                report.removed += len(gone)
        return report
