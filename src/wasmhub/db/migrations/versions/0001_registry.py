"""Registry: repositories, blobs, repository-blob links, manifests, tags, references, uploads.

Revision ID: 0001_registry
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registry_repositories",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_repositories"),
        sa.UniqueConstraint("name", name="uq_registry_repositories_name"),
    )
    op.create_table(
        "registry_blobs",
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_registry_blobs"),
    )
    op.create_table(
        "registry_repository_blobs",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("repository_id", "digest", name="pk_registry_repository_blobs"),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["registry_repositories.id"], ondelete="CASCADE",
            name="fk_registry_repository_blobs_repository",
        ),
        sa.ForeignKeyConstraint(
            ["digest"], ["registry_blobs.digest"], ondelete="CASCADE",
            name="fk_registry_repository_blobs_blob",
        ),
    )
    op.create_index(
        "ix_registry_repository_blobs_digest", "registry_repository_blobs", ["digest"]
    )
    op.create_table(
        "registry_manifests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("subject_digest", sa.String(140), nullable=True),
        sa.Column("annotations", sa.JSON(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_manifests"),
        sa.UniqueConstraint(
            "repository_id", "digest", name="uq_registry_manifests_repository_id_digest"
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["registry_repositories.id"], ondelete="CASCADE",
            name="fk_registry_manifests_repository",
        ),
    )
    op.create_index("ix_registry_manifests_digest", "registry_manifests", ["digest"])
    op.create_index(
        "ix_registry_manifests_subject", "registry_manifests",
        ["repository_id", "subject_digest"],
    )
    op.create_table(
        "registry_tags",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("repository_id", "name", name="pk_registry_tags"),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["registry_repositories.id"], ondelete="CASCADE",
            name="fk_registry_tags_repository",
        ),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["registry_manifests.id"], ondelete="CASCADE",
            name="fk_registry_tags_manifest",
        ),
    )
    op.create_index("ix_registry_tags_manifest_id", "registry_tags", ["manifest_id"])
    op.create_table(
        "registry_manifest_references",
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint(
            "manifest_id", "digest", name="pk_registry_manifest_references"
        ),
        sa.ForeignKeyConstraint(
            ["manifest_id"], ["registry_manifests.id"], ondelete="CASCADE",
            name="fk_registry_manifest_references_manifest",
        ),
    )
    op.create_index(
        "ix_registry_manifest_references_digest", "registry_manifest_references", ["digest"]
    )
    op.create_table(
        "registry_upload_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_upload_sessions"),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["registry_repositories.id"], ondelete="CASCADE",
            name="fk_registry_upload_sessions_repository",
        ),
    )
    op.create_index(
        "ix_registry_upload_sessions_repository_id", "registry_upload_sessions",
        ["repository_id"],
    )


def downgrade() -> None:
    for table in (
        "registry_upload_sessions", "registry_manifest_references", "registry_tags",
        "registry_manifests", "registry_repository_blobs", "registry_blobs",
        "registry_repositories",
    ):
        op.drop_table(table)
