"""Identity and access: users, sessions, namespaces, organizations, teams, invitations,
repository policies, API tokens and the audit log.

Revision ID: 0004_identity
Revises: 0003_signing_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_identity"
down_revision = "0003_signing_trust"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fk(column: str, target: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=name, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "accounts_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_sign_in_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accounts_users"),
        sa.UniqueConstraint("username", name="uq_accounts_users_username"),
        sa.UniqueConstraint("email", name="uq_accounts_users_email"),
    )
    op.create_table(
        "accounts_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("client_addr", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts_sessions"),
        _fk("user_id", "accounts_users.id", "fk_accounts_sessions_user"),
    )
    op.create_index("ix_accounts_sessions_user_id", "accounts_sessions", ["user_id"])
    op.create_table(
        "accounts_signup_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_accounts_signup_codes"),
    )
    op.create_table(
        "orgs_namespaces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orgs_namespaces"),
        sa.UniqueConstraint("name", name="uq_orgs_namespaces_name"),
        _fk("owner_user_id", "accounts_users.id", "fk_orgs_namespaces_owner"),
    )
    op.create_index("ix_orgs_namespaces_owner_user_id", "orgs_namespaces", ["owner_user_id"])
    op.create_table(
        "orgs_memberships",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("namespace_id", "user_id", name="pk_orgs_memberships"),
        _fk("namespace_id", "orgs_namespaces.id", "fk_orgs_memberships_namespace"),
        _fk("user_id", "accounts_users.id", "fk_orgs_memberships_user"),
    )
    op.create_index("ix_orgs_memberships_user_id", "orgs_memberships", ["user_id"])
    op.create_table(
        "orgs_teams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orgs_teams"),
        sa.UniqueConstraint("namespace_id", "name", name="uq_orgs_teams_namespace_id"),
        _fk("namespace_id", "orgs_namespaces.id", "fk_orgs_teams_namespace"),
    )
    op.create_index("ix_orgs_teams_namespace_id", "orgs_teams", ["namespace_id"])
    op.create_table(
        "orgs_team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_orgs_team_members"),
        _fk("team_id", "orgs_teams.id", "fk_orgs_team_members_team"),
        _fk("user_id", "accounts_users.id", "fk_orgs_team_members_user"),
    )
    op.create_index("ix_orgs_team_members_user_id", "orgs_team_members", ["user_id"])
    op.create_table(
        "orgs_team_grants",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("permission", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "repository", name="pk_orgs_team_grants"),
        _fk("team_id", "orgs_teams.id", "fk_orgs_team_grants_team"),
    )
    op.create_table(
        "orgs_invitations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("invited_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orgs_invitations"),
        sa.UniqueConstraint("namespace_id", "user_id", name="uq_orgs_invitations_namespace_id"),
        _fk("namespace_id", "orgs_namespaces.id", "fk_orgs_invitations_namespace"),
        _fk("user_id", "accounts_users.id", "fk_orgs_invitations_user"),
    )
    op.create_index("ix_orgs_invitations_namespace_id", "orgs_invitations", ["namespace_id"])
    op.create_index("ix_orgs_invitations_user_id", "orgs_invitations", ["user_id"])
    op.create_table(
        "authz_repository_policies",
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("tag_immutable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("repository", name="pk_authz_repository_policies"),
    )
    op.create_table(
        "authz_api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("namespace_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_authz_api_tokens"),
        sa.UniqueConstraint("public_id", name="uq_authz_api_tokens_public_id"),
        _fk("user_id", "accounts_users.id", "fk_authz_api_tokens_user"),
        _fk("namespace_id", "orgs_namespaces.id", "fk_authz_api_tokens_namespace"),
    )
    op.create_index("ix_authz_api_tokens_user_id", "authz_api_tokens", ["user_id"])
    op.create_index("ix_authz_api_tokens_namespace_id", "authz_api_tokens", ["namespace_id"])
    op.create_table(
        "authz_audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=True),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("client_addr", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_authz_audit_events"),
    )
    op.create_index("ix_authz_audit_events_at", "authz_audit_events", ["at"])
    op.create_index("ix_authz_audit_events_action", "authz_audit_events", ["action"])
    op.create_index("ix_authz_audit_events_namespace_at", "authz_audit_events",
                    ["namespace", "at"])


def downgrade() -> None:
    for table in ("authz_audit_events", "authz_api_tokens", "authz_repository_policies",
                  "orgs_invitations", "orgs_team_grants", "orgs_team_members", "orgs_teams",
                  "orgs_memberships", "orgs_namespaces", "accounts_signup_codes",
                  "accounts_sessions", "accounts_users"):
        op.drop_table(table)
