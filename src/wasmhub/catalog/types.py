"""The catalog's typed values: what the indexer records and what the service returns.

``VersionRecord`` is the input of :meth:`CatalogService.record_version` (the indexer
builds it from a manifest; tests and benchmarks may build it directly). The frozen
views (``PluginSummary``, ``PluginDetail``, ``VersionDetail``, ``SearchPage``,
``FacetCount``) are what the API and the web UI render; they hold plain data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from wasmhub.authz.access import ReadScope


class SortOrder(StrEnum):
    RELEVANCE = "relevance"
    STARS = "stars"
    DOWNLOADS = "downloads"
    UPDATED = "updated"


class FacetKind(StrEnum):
    CATEGORY = "category"
    ABI = "abi"
    FILTER_TYPE = "filter_type"
    PLATFORM = "platform"
    NAMESPACE = "namespace"
    SIGNED = "signed"  # value "yes": the latest version has a signature by a namespace key


@dataclass(frozen=True)
class Localized:
    en: str = ""
    zh: str = ""


@dataclass(frozen=True)
class VersionRecord:
    """Everything known about one tagged manifest of a plugin repository."""

    repository: str
    tag: str
    digest: str
    media_type: str = ""
    layout: str = ""
    size: int = 0
    created_at: datetime | None = None
    display_name: Localized = Localized()
    description: Localized = Localized()
    category: str = ""
    keywords: tuple[str, ...] = ()
    license: str = ""
    source: str = ""
    root_id: str = ""
    phase: str = ""
    priority: int | None = None
    config_schema: dict[str, Any] | None = None
    example_config: Any = None
    abi_version: str = ""
    is_proxy_wasm: bool = False
    filter_types: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    wasi: str | None = None
    language: str | None = None
    platforms: tuple[str, ...] = ()
    module_sha256: str = ""
    module_size: int = 0
    inspection: dict[str, Any] = field(default_factory=dict)
    readme: Localized = Localized()
    icon_media_type: str | None = None
    icon: bytes | None = None


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    category: str | None = None
    abi: str | None = None
    filter_type: str | None = None
    platform: str | None = None
    namespace: str | None = None
    signed: str | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    page: int = 1
    per_page: int = 20
    # What private plugins the caller may see (authz.access.ReadScope); None: none.
    visible: ReadScope | None = None

    def filters(self) -> dict[FacetKind, str]:
        chosen = {
            FacetKind.CATEGORY: self.category,
            FacetKind.ABI: self.abi,
            FacetKind.FILTER_TYPE: self.filter_type,
            FacetKind.PLATFORM: self.platform,
            FacetKind.NAMESPACE: self.namespace,
            FacetKind.SIGNED: self.signed,
        }
        return {kind: value for kind, value in chosen.items() if value}


@dataclass(frozen=True)
class PluginSummary:
    namespace: str
    name: str
    display_name: Localized
    description: Localized
    category: str
    keywords: tuple[str, ...]
    latest_version: str
    abi_version: str
    filter_types: tuple[str, ...]
    platforms: tuple[str, ...]
    stars: int
    downloads: int
    created_at: datetime
    updated_at: datetime

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class VersionSummary:
    tag: str
    digest: str
    layout: str
    size: int
    created_at: datetime
    abi_version: str
    downloads: int
    deprecated: bool
    deprecation_reason: str | None
    yanked: bool
    yank_reason: str | None
    signed_by: tuple[str, ...] = ()  # names of namespace keys with a verified signature


@dataclass(frozen=True)
class PluginDetail:
    summary: PluginSummary
    license: str
    source: str
    origin_url: str | None
    has_icon: bool
    readme_html: Localized
    versions: tuple[VersionSummary, ...]
    starred_by_user: bool = False


@dataclass(frozen=True)
class Snippet:
    key: str  # stable id: pull, istio, istio-trafficextension, envoy-gateway, higress, ...
    title: str  # the tab label (a product name, not translated)
    language: str  # "shell" or "yaml"
    text: str
    notes: tuple[str, ...] = ()  # what the user must know to apply it (from the provider)


@dataclass(frozen=True)
class InstallSnippets:
    """How to install one version; built by :func:`wasmhub.catalog.snippets.install_snippets`
    from the deploy providers."""

    oci_url: str  # oci://host/namespace/name:tag
    digest: str | None  # the manifest digest every OCI snippet pins, when known
    pull_command: str  # wasmhub pull host/namespace/name@digest
    platforms: tuple[Snippet, ...] = ()  # one per claimed platform, in display order

    def text(self, key: str) -> str:
        """The snippet for platform ``key`` ("" when the version does not claim it)."""
        return next((s.text for s in self.platforms if s.key == key), "")

    @property
    def istio_wasmplugin(self) -> str:
        return self.text("istio")

    @property
    def envoy_gateway_extension_policy(self) -> str:
        return self.text("envoy-gateway")

    @property
    def higress_wasmplugin(self) -> str:
        return self.text("higress")

    @property
    def items(self) -> tuple[Snippet, ...]:
        """The snippets in display order, as the plugin page's tabs show them."""
        return (Snippet("pull", "wasmhub pull", "shell", self.pull_command), *self.platforms)


@dataclass(frozen=True)
class VersionDetail:
    namespace: str
    name: str
    version: VersionSummary
    media_type: str
    display_name: Localized
    description: Localized
    category: str
    keywords: tuple[str, ...]
    license: str
    source: str
    root_id: str
    phase: str
    priority: int | None
    config_schema: dict[str, Any] | None
    example_config: Any
    is_proxy_wasm: bool
    filter_types: tuple[str, ...]
    imports: tuple[str, ...]
    wasi: str | None
    language: str | None
    platforms: tuple[str, ...]
    module_sha256: str
    module_size: int
    inspection: dict[str, Any]
    readme_html: Localized
    snippets: InstallSnippets


@dataclass(frozen=True)
class SearchPage:
    items: tuple[PluginSummary, ...]
    total: int
    page: int
    per_page: int
    # The query actually run when ``q`` found nothing as typed (catalog.fuzzy), else None.
    corrected_q: str | None = None


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Icon:
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Registration:
    """What a user typed when adding a plugin by URL."""

    url: str
    display_name: Localized
    description: Localized = Localized()
    namespace: str = "library"
    name: str | None = None
    tag: str | None = None
