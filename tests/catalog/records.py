"""Version records for tests that exercise the catalog without a registry push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wasmhub.catalog.types import Localized, VersionRecord

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def record(
    repository: str,
    tag: str = "1.0.0",
    *,
    digest: str | None = None,
    en: str = "",
    zh: str = "",
    description: str = "",
    description_zh: str = "",
    category: str = "traffic",
    keywords: tuple[str, ...] = (),
    abi: str = "0.2.1",
    filter_types: tuple[str, ...] = ("http",),
    platforms: tuple[str, ...] = ("istio", "envoy"),
    readme: str = "",
    minutes: int = 0,
    **extra: Any,
) -> VersionRecord:
    seed = f"{repository}:{tag}".encode().hex()
    return VersionRecord(
        repository=repository,
        tag=tag,
        digest=digest or "sha256:" + (seed * 64)[:64],
        media_type="application/vnd.oci.image.manifest.v1+json",
        layout="compat",
        size=1234,
        created_at=BASE_TIME + timedelta(minutes=minutes),
        display_name=Localized(en, zh),
        description=Localized(description, description_zh),
        category=category,
        keywords=keywords,
        abi_version=abi,
        is_proxy_wasm=True,
        filter_types=filter_types,
        platforms=platforms,
        readme=Localized(readme, ""),
        **extra,
    )
