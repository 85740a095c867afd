"""Catalog: plugins, versions, facets, stars; FTS5 (SQLite) or tsvector + GIN (PostgreSQL).

Revision ID: 0002_catalog
Revises: 0001_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_catalog"
down_revision = "0001_registry"
branch_labels = None
depends_on = None

# The weighted document PostgreSQL searches: names (A), descriptions and keywords (B),
# README text (C). 'simple' keeps every token as written, so Chinese names match too.
PG_SEARCH_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(namespace, '') || ' ' || "
    "coalesce(name, '') || ' ' || coalesce(display_name_en, '') || ' ' || "
    "coalesce(display_name_zh, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(search_text, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(readme_text, '')), 'C')"
)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON()


def upgrade() -> None:
    op.create_table(
        "catalog_plugins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("display_name_en", sa.String(255), nullable=False),
        sa.Column("display_name_zh", sa.String(255), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("description_zh", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("keywords", _json(), nullable=False),
        sa.Column("license", sa.String(128), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("latest_version", sa.String(128), nullable=False),
        sa.Column("abi_version", sa.String(16), nullable=False),
        sa.Column("filter_types", _json(), nullable=False),
        sa.Column("platforms", _json(), nullable=False),
        sa.Column("readme_text", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_display_name_en", sa.String(255), nullable=True),
        sa.Column("registered_display_name_zh", sa.String(255), nullable=True),
        sa.Column("registered_description_en", sa.Text(), nullable=True),
        sa.Column("registered_description_zh", sa.Text(), nullable=True),
        sa.Column("origin_url", sa.String(2048), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_plugins")),
        sa.UniqueConstraint("repository", name=op.f("uq_catalog_plugins_repository")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_catalog_plugins_namespace_name")),
    )
    op.create_index("ix_catalog_plugins_stars", "catalog_plugins", ["stars"])
    op.create_index("ix_catalog_plugins_downloads", "catalog_plugins", ["downloads"])
    op.create_index("ix_catalog_plugins_updated_at", "catalog_plugins", ["updated_at"])

    op.create_table(
        "catalog_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plugin_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(160), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("layout", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("display_name_en", sa.String(255), nullable=False),
        sa.Column("display_name_zh", sa.String(255), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("description_zh", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("keywords", _json(), nullable=False),
        sa.Column("license", sa.String(128), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("root_id", sa.String(255), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("config_schema", _json(), nullable=True),
        sa.Column("example_config", _json(), nullable=True),
        sa.Column("abi_version", sa.String(16), nullable=False),
        sa.Column("is_proxy_wasm", sa.Boolean(), nullable=False),
        sa.Column("filter_types", _json(), nullable=False),
        sa.Column("imports", _json(), nullable=False),
        sa.Column("wasi", sa.String(32), nullable=True),
        sa.Column("language", sa.String(32), nullable=True),
        sa.Column("platforms", _json(), nullable=False),
        sa.Column("module_sha256", sa.String(80), nullable=False),
        sa.Column("module_size", sa.BigInteger(), nullable=False),
        sa.Column("inspection", _json(), nullable=False),
        sa.Column("readme_en", sa.Text(), nullable=False),
        sa.Column("readme_zh", sa.Text(), nullable=False),
        sa.Column("icon_media_type", sa.String(128), nullable=True),
        sa.Column("icon", sa.LargeBinary(), nullable=True),
        sa.Column("downloads", sa.BigInteger(), nullable=False),
        sa.Column("deprecated", sa.Boolean(), nullable=False),
        sa.Column("deprecation_reason", sa.Text(), nullable=True),
        sa.Column("yanked", sa.Boolean(), nullable=False),
        sa.Column("yank_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_versions")),
        sa.ForeignKeyConstraint(
            ["plugin_id"], ["catalog_plugins.id"], ondelete="CASCADE",
            name=op.f("fk_catalog_versions_plugin_id_catalog_plugins"),
        ),
        sa.UniqueConstraint("plugin_id", "tag", name=op.f("uq_catalog_versions_plugin_id")),
    )
    op.create_index("ix_catalog_versions_plugin_id", "catalog_versions", ["plugin_id"])
    op.create_index("ix_catalog_versions_digest", "catalog_versions", ["digest"])

    op.create_table(
        "catalog_facets",
        sa.Column("plugin_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("plugin_id", "kind", "value", name=op.f("pk_catalog_facets")),
        sa.ForeignKeyConstraint(
            ["plugin_id"], ["catalog_plugins.id"], ondelete="CASCADE",
            name=op.f("fk_catalog_facets_plugin_id_catalog_plugins"),
        ),
    )
    op.create_index("ix_catalog_facets_kind", "catalog_facets", ["kind", "value", "plugin_id"])

    op.create_table(
        "catalog_stars",
        sa.Column("plugin_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plugin_id", "user", name=op.f("pk_catalog_stars")),
        sa.ForeignKeyConstraint(
            ["plugin_id"], ["catalog_plugins.id"], ondelete="CASCADE",
            name=op.f("fk_catalog_stars_plugin_id_catalog_plugins"),
        ),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # Kept in step by wasmhub.catalog.search (rowid = catalog_plugins.id).
        op.execute(
            "CREATE VIRTUAL TABLE catalog_plugin_fts USING fts5("
            "names, body, readme, tokenize = 'unicode61 remove_diacritics 2')"
        )
    elif dialect == "postgresql":
        op.execute(
            "ALTER TABLE catalog_plugins ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_SEARCH_VECTOR}) STORED"
        )
        op.execute(
            "CREATE INDEX ix_catalog_plugins_search_vector ON catalog_plugins "
            "USING gin (search_vector)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS catalog_plugin_fts")
    op.drop_table("catalog_stars")
    op.drop_table("catalog_facets")
    op.drop_table("catalog_versions")
    op.drop_table("catalog_plugins")
