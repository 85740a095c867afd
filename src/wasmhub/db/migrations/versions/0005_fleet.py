"""Envoy fleets: deployments served over ECDS, their revisions, and node status.

Revision ID: 0005_fleet
Revises: 0004_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_fleet"
down_revision = "0004_identity"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fleet_deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource", sa.String(200), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("follow_tag", sa.Boolean(), nullable=False),
        sa.Column("stable_revision", sa.Integer(), nullable=True),
        sa.Column("candidate_revision", sa.Integer(), nullable=True),
        sa.Column("stage", sa.JSON(), nullable=True),
        sa.Column("stage_nodes", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fleet_deployments"),
        sa.UniqueConstraint("resource", name="uq_fleet_deployments_resource"),
    )
    op.create_index("ix_fleet_deployments_namespace", "fleet_deployments", ["namespace"])
    op.create_index("ix_fleet_deployments_repository", "fleet_deployments", ["repository"])
    op.create_table(
        "fleet_revisions",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("tag", sa.String(128), nullable=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("module_sha256", sa.String(64), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("promoted_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", "revision", name="pk_fleet_revisions"),
        sa.ForeignKeyConstraint(["deployment_id"], ["fleet_deployments.id"],
                                name="fk_fleet_revisions_deployment_id_fleet_deployments",
                                ondelete="CASCADE"),
    )
    op.create_table(
        "fleet_nodes",
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("locality", sa.JSON(), nullable=True),
        sa.Column("envoy_version", sa.String(32), nullable=False),
        sa.Column("user_agent", sa.String(64), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("connected_at", TS, nullable=True),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("node_id", name="pk_fleet_nodes"),
    )
    op.create_table(
        "fleet_node_configs",
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(200), nullable=False),
        sa.Column("sent_revision", sa.Integer(), nullable=True),
        sa.Column("acked_revision", sa.Integer(), nullable=True),
        sa.Column("acked_digest", sa.String(80), nullable=True),
        sa.Column("acked_at", TS, nullable=True),
        sa.Column("nacked_revision", sa.Integer(), nullable=True),
        sa.Column("nack_error", sa.Text(), nullable=True),
        sa.Column("nacked_at", TS, nullable=True),
        sa.Column("held", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("node_id", "resource", name="pk_fleet_node_configs"),
        sa.ForeignKeyConstraint(["node_id"], ["fleet_nodes.node_id"],
                                name="fk_fleet_node_configs_node_id_fleet_nodes",
                                ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("fleet_node_configs")
    op.drop_table("fleet_nodes")
    op.drop_table("fleet_revisions")
    op.drop_index("ix_fleet_deployments_repository", table_name="fleet_deployments")
    op.drop_index("ix_fleet_deployments_namespace", table_name="fleet_deployments")
    op.drop_table("fleet_deployments")
