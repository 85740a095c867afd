"""Pydantic wire shapes of REST v1 (what OpenAPI documents), built from catalog views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wasmhub.catalog.types import (
    FacetCount,
    InstallSnippets,
    Localized,
    PluginDetail,
    PluginSummary,
    VersionDetail,
    VersionSummary,
)

NO_NUL = r"^[^\x00]*$"


class LocalizedText(BaseModel):
    en: str = ""
    zh: str = ""

    @classmethod
    def of(cls, value: Localized) -> LocalizedText:
        return cls(en=value.en, zh=value.zh)


class PluginSummaryOut(BaseModel):
    namespace: str
    name: str
    display_name: LocalizedText
    description: LocalizedText
    category: str
    keywords: list[str]
    latest_version: str
    abi_version: str
    filter_types: list[str]
    platforms: list[str]
    stars: int
    downloads: int
    updated_at: datetime

    @classmethod
    def of(cls, p: PluginSummary) -> PluginSummaryOut:
        return cls(
            namespace=p.namespace, name=p.name, display_name=LocalizedText.of(p.display_name),
            description=LocalizedText.of(p.description), category=p.category,
            keywords=list(p.keywords), latest_version=p.latest_version,
            abi_version=p.abi_version, filter_types=list(p.filter_types),
            platforms=list(p.platforms), stars=p.stars, downloads=p.downloads,
            updated_at=p.updated_at,
        )


class PluginList(BaseModel):
    items: list[PluginSummaryOut]
    total: int
    page: int
    per_page: int
    corrected_q: str | None = Field(
        None, description="The query run instead when q found nothing as typed (joined words, "
        "prefixes, typos), else null.")


class VersionSummaryOut(BaseModel):
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
    signed_by: list[str] = Field(
        default_factory=list,
        description="Keys of the namespace whose signature of this digest verifies.")

    @classmethod
    def of(cls, v: VersionSummary) -> VersionSummaryOut:
        data = {name: getattr(v, name) for name in cls.model_fields}
        data["signed_by"] = list(v.signed_by)
        return cls(**data)


class PluginDetailOut(PluginSummaryOut):
    license: str
    source: str
    origin_url: str | None
    icon_url: str | None
    readme_html: LocalizedText
    versions: list[VersionSummaryOut]
    starred: bool

    @classmethod
    def of_detail(cls, d: PluginDetail, icon_url: str | None) -> PluginDetailOut:
        base = PluginSummaryOut.of(d.summary).model_dump()
        return cls(
            **base, license=d.license, source=d.source, origin_url=d.origin_url,
            icon_url=icon_url if d.has_icon else None,
            readme_html=LocalizedText.of(d.readme_html),
            versions=[VersionSummaryOut.of(v) for v in d.versions],
            starred=d.starred_by_user,
        )


class PlatformSnippet(BaseModel):
    key: str = Field(description="istio, istio-trafficextension, envoy-gateway, higress, "
                                 "consul, envoy or gloo")
    title: str = Field(description="The platform's product name.")
    text: str = Field(description="The resources as YAML, rendered by the deploy provider.")
    notes: list[str] = Field(description="What to know before applying it.")


class Snippets(BaseModel):
    """Install snippets rendered by the deploy providers (the same text the web page shows).

    OCI platforms reference the image by tag and pin ``sha256`` to the manifest digest;
    Consul and Envoy fetch ``/modules/sha256:<hex>.wasm`` and pin the module's sha256.
    A platform the version does not claim has an empty string.
    """

    oci_url: str = Field(description="oci://host/namespace/name:tag")
    digest: str | None = Field(description="The manifest digest the snippets pin.")
    pull_command: str = Field(description="wasmhub pull host/namespace/name@digest")
    istio_wasmplugin: str = Field(description="Istio WasmPlugin YAML.")
    envoy_gateway_extension_policy: str = Field(
        description="Envoy Gateway EnvoyExtensionPolicy YAML."
    )
    higress_wasmplugin: str = Field(description="Higress WasmPlugin YAML.")
    platforms: list[PlatformSnippet] = Field(
        description="One snippet per platform the version claims, in display order."
    )

    @classmethod
    def of(cls, s: InstallSnippets) -> Snippets:
        return cls(
            oci_url=s.oci_url, digest=s.digest, pull_command=s.pull_command,
            istio_wasmplugin=s.istio_wasmplugin,
            envoy_gateway_extension_policy=s.envoy_gateway_extension_policy,
            higress_wasmplugin=s.higress_wasmplugin,
            platforms=[PlatformSnippet(key=p.key, title=p.title, text=p.text,
                                       notes=list(p.notes)) for p in s.platforms],
        )


class VersionDetailOut(BaseModel):
    namespace: str
    name: str
    version: VersionSummaryOut
    media_type: str
    display_name: LocalizedText
    description: LocalizedText
    category: str
    keywords: list[str]
    license: str
    source: str
    root_id: str
    phase: str
    priority: int | None
    config_schema: dict[str, Any] | None
    example_config: Any
    is_proxy_wasm: bool
    filter_types: list[str]
    imports: list[str]
    wasi: str | None
    language: str | None
    platforms: list[str]
    module_sha256: str
    module_size: int
    inspection: dict[str, Any]
    readme_html: LocalizedText
    snippets: Snippets

    @classmethod
    def of(cls, d: VersionDetail) -> VersionDetailOut:
        return cls(
            namespace=d.namespace, name=d.name, version=VersionSummaryOut.of(d.version),
            media_type=d.media_type, display_name=LocalizedText.of(d.display_name),
            description=LocalizedText.of(d.description), category=d.category,
            keywords=list(d.keywords), license=d.license, source=d.source,
            root_id=d.root_id, phase=d.phase, priority=d.priority,
            config_schema=d.config_schema, example_config=d.example_config,
            is_proxy_wasm=d.is_proxy_wasm, filter_types=list(d.filter_types),
            imports=list(d.imports), wasi=d.wasi, language=d.language,
            platforms=list(d.platforms), module_sha256=d.module_sha256,
            module_size=d.module_size, inspection=d.inspection,
            readme_html=LocalizedText.of(d.readme_html),
            snippets=Snippets.of(d.snippets),
        )


class FacetCountOut(BaseModel):
    value: str
    count: int

    @classmethod
    def of(cls, f: FacetCount) -> FacetCountOut:
        return cls(value=f.value, count=f.count)


class Facets(BaseModel):
    category: list[FacetCountOut]
    abi: list[FacetCountOut]
    filter_type: list[FacetCountOut]
    platform: list[FacetCountOut]
    namespace: list[FacetCountOut]
    signed: list[FacetCountOut]


class StarState(BaseModel):
    starred: bool
    stars: int


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class LocalizedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str = Field(default="", max_length=255, pattern=NO_NUL)
    zh: str = Field(default="", max_length=255, pattern=NO_NUL)


class DescriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str = Field(default="", max_length=2000, pattern=NO_NUL)
    zh: str = Field(default="", max_length=2000, pattern=NO_NUL)


class AddPluginIn(BaseModel):
    """Register a plugin from ``oci://host[:port]/repo:tag`` or ``https://…/file.wasm``."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2048, pattern=r"^(oci|https?)://[^\x00\s]+$")
    display_name: LocalizedIn
    description: DescriptionIn = DescriptionIn()
    namespace: str = Field(
        "library", min_length=1, max_length=128, pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=200,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
    )
    tag: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
