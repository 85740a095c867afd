"""Signing trust: keys per namespace, policies, their audit log, verified-signature index.

Revision ID: 0003_signing_trust
Revises: 0002_catalog
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_signing_trust"
down_revision = "0002_catalog"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trust_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trust_keys"),
        sa.UniqueConstraint("namespace", "name", name="uq_trust_keys_namespace_name"),
        sa.UniqueConstraint("namespace", "fingerprint", name="uq_trust_keys_namespace_fingerprint"),
    )
    op.create_index("ix_trust_keys_namespace", "trust_keys", ["namespace"])
    op.create_table(
        "trust_policies",
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name="pk_trust_policies"),
    )
    op.create_table(
        "trust_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trust_audit"),
    )
    op.create_index("ix_trust_audit_namespace", "trust_audit", ["namespace"])
    op.create_table(
        "trust_verified_signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("verified_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trust_verified_signatures"),
        sa.UniqueConstraint("repository", "digest", "fingerprint",
                            name="uq_trust_verified_signatures_repository_digest_fingerprint"),
    )
    op.create_index("ix_trust_verified_signatures_repository_digest",
                    "trust_verified_signatures", ["repository", "digest"])


def downgrade() -> None:
    op.drop_table("trust_verified_signatures")
    op.drop_table("trust_audit")
    op.drop_table("trust_policies")
    op.drop_table("trust_keys")
