"""Catalog tables: plugins, their versions, facets, stars and user registrations.

Everything here except stars, download counters, deprecation/yank state and the
add-by-URL registration fields is derived from the registry's stored manifests and is
rebuilt by ``wasmhub catalog reindex``; those user-made fields survive a reindex because
reindex updates rows in place instead of recreating them.

Search support lives beside these tables but outside the ORM: on SQLite an FTS5 table
``catalog_plugin_fts`` (rowid = plugin id) that :mod:`wasmhub.catalog.search` keeps in
step, on PostgreSQL a generated ``search_vector tsvector`` column with a GIN index. Both
are created by migration ``0002_catalog``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wasmhub.db.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class CatalogPlugin(Base):
    """One plugin = one repository: ``namespace/name``."""

    __tablename__ = "catalog_plugins"
    __table_args__ = (
        UniqueConstraint("namespace", "name"),
        Index("ix_catalog_plugins_stars", "stars"),
        Index("ix_catalog_plugins_downloads", "downloads"),
        Index("ix_catalog_plugins_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), unique=True)
    namespace: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    display_name_en: Mapped[str] = mapped_column(String(255), default="")
    display_name_zh: Mapped[str] = mapped_column(String(255), default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(1024), default="")
    latest_version: Mapped[str] = mapped_column(String(128), default="")
    abi_version: Mapped[str] = mapped_column(String(16), default="")
    filter_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    readme_text: Mapped[str] = mapped_column(Text, default="")
    # Lower-cased names, descriptions and keywords for the substring (CJK) fallback.
    search_text: Mapped[str] = mapped_column(Text, default="")
    stars: Mapped[int] = mapped_column(Integer, default=0)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Add-by-URL registration: what the user typed wins over plugin.yaml.
    registered_display_name_en: Mapped[str | None] = mapped_column(String(255), nullable=True)
    registered_display_name_zh: Mapped[str | None] = mapped_column(String(255), nullable=True)
    registered_description_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    registered_description_zh: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)

    versions: Mapped[list[CatalogVersion]] = relationship(
        back_populates="plugin", cascade="all, delete-orphan", passive_deletes=True
    )


class CatalogVersion(Base):
    """One tag of a plugin with the facts read from its manifest, module and files."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("plugin_id", "tag"), Index(None, "digest"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_plugins.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(160))
    media_type: Mapped[str] = mapped_column(String(255), default="")
    layout: Mapped[str] = mapped_column(String(16), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Metadata from plugin.yaml.
    display_name_en: Mapped[str] = mapped_column(String(255), default="")
    display_name_zh: Mapped[str] = mapped_column(String(255), default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(1024), default="")
    root_id: Mapped[str] = mapped_column(String(255), default="")
    phase: Mapped[str] = mapped_column(String(32), default="")
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    config_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    example_config: Mapped[Any] = mapped_column(JSON, nullable=True)
    # Inspector facts.
    abi_version: Mapped[str] = mapped_column(String(16), default="")
    is_proxy_wasm: Mapped[bool] = mapped_column(Boolean, default=False)
    filter_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    imports: Mapped[list[str]] = mapped_column(JSON, default=list)
    wasi: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str | None] = mapped_column(String(32), nullable=True)
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    module_sha256: Mapped[str] = mapped_column(String(80), default="")
    module_size: Mapped[int] = mapped_column(BigInteger, default=0)
    inspection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Documents.
    readme_en: Mapped[str] = mapped_column(Text, default="")
    readme_zh: Mapped[str] = mapped_column(Text, default="")
    icon_media_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    icon: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # User state that survives reindex.
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    deprecation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yank_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    plugin: Mapped[CatalogPlugin] = relationship(back_populates="versions")


class CatalogFacet(Base):
    """Denormalised filter values of a plugin (category, abi, filter_type, platform)."""

    __tablename__ = "catalog_facets"
    __table_args__ = (Index(None, "kind", "value", "plugin_id"),)

    plugin_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_plugins.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)


class CatalogStar(Base):
    """A user's star on a plugin (``user`` is the username)."""

    __tablename__ = "catalog_stars"

    plugin_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_plugins.id", ondelete="CASCADE"), primary_key=True
    )
    user: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
