"""A small, varied catalog for web tests, recorded through CatalogService."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import Localized, VersionRecord

BASE = datetime(2025, 3, 1, tzinfo=UTC)
XSS_NAME = '<script>alert("name")</script>'
XSS_DESCRIPTION = '<img src=x onerror="alert(1)">'

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["header"],
    "properties": {
        "header": {"type": "string", "title": "Header name", "minLength": 2,
                   "description": "The request header to add."},
        "value": {"type": "string", "title": "Value", "default": "hello"},
        "limit": {"type": "integer", "title": "Limit", "minimum": 1, "default": 10},
        "mode": {"title": "Mode", "enum": ["append", "overwrite"]},
        "enabled": {"type": "boolean", "title": "Enabled", "default": True},
        "hosts": {"type": "array", "title": "Hosts", "items": {"type": "string"}},
        "upstream": {"type": "object", "title": "Upstream", "required": ["cluster"],
                     "properties": {"cluster": {"type": "string", "title": "Cluster"},
                                    "timeout_ms": {"type": "number", "title": "Timeout"}}},
    },
}

# repository, en, zh, description en, zh, category, abi, filter types, platforms
PLUGINS: list[tuple[str, str, str, str, str, str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("acme/add-header", "Add Header", "添加请求头", "Adds a configurable header.",
     "添加可配置的请求头。", "transformation", "0.2.1", ("http",), ("istio", "envoy-gateway")),
    ("acme/rate-limit", "Rate Limit", "限流", "Per-user rate limiting by plan.",
     "", "traffic", "0.2.0", ("http",), ("istio",)),
    ("security/jwt-auth", "JWT Auth", "", "Validates JWT bearer tokens.", "",
     "auth", "0.2.1", ("http",), ("higress",)),
    ("obs/tcp-metrics", "TCP Metrics", "TCP 指标", "Counts bytes per upstream.", "",
     "observability", "0.2.1", ("network",), ("istio",)),
    ("evil/xss", XSS_NAME, XSS_NAME, XSS_DESCRIPTION, XSS_DESCRIPTION, "security", "0.2.1",
     ("http",), ("istio",)),
]


def version(repository: str, tag: str, index: int, **extra: Any) -> VersionRecord:
    item = next(p for p in PLUGINS if p[0] == repository)
    _repo, en, zh, den, dzh, category, abi, filter_types, platforms = item
    return VersionRecord(
        repository=repository, tag=tag,
        digest="sha256:" + f"{index:02d}{tag.replace('.', '')}".ljust(64, "f")[:64],
        media_type="application/vnd.oci.image.manifest.v1+json", layout="compat", size=4321,
        created_at=BASE + timedelta(days=index * 3 + int(tag[0])),
        display_name=Localized(en, zh), description=Localized(den, dzh), category=category,
        keywords=("demo",), license="Apache-2.0", abi_version=abi, is_proxy_wasm=True,
        filter_types=filter_types, platforms=platforms, imports=("env.proxy_log",),
        wasi="wasi_snapshot_preview1", module_sha256="ab" * 32, root_id="root",
        phase="AUTHN", **extra,
    )


def seed_catalog(catalog: CatalogService) -> None:
    for index, (repository, *_rest) in enumerate(PLUGINS):
        extra: dict[str, Any] = {}
        if repository == "acme/add-header":
            extra = {"config_schema": CONFIG_SCHEMA, "example_config": {"header": "x-hello"},
                     "readme": Localized("# Add Header\n\n<script>alert('readme')</script>\n\n"
                                         "Adds **one** header.", "# 添加请求头\n\n中文说明。")}
        if repository == "evil/xss":
            extra = {"source": "javascript:alert(1)"}
        catalog.record_version(version(repository, "0.9.0", index, **extra))
        catalog.record_version(version(repository, "1.0.0", index, **extra))
    catalog.deprecate("acme", "add-header", "0.9.0", "use 1.0.0")
    catalog.yank("acme", "rate-limit", "0.9.0", "broken build")
    catalog.star("acme", "rate-limit", "someone")
