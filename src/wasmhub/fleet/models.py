"""Fleet tables: deployments pushed over ECDS, their revisions, and what each Envoy reported.

``fleet_deployments`` is the desired state (one per ECDS resource
``wasmhub/<namespace>/<name>``): the *stable* revision every node gets, and while a rollout
runs, the *candidate* revision the stage nodes (or every node) get. ``generation`` grows on
every change, so the xDS server sees changes by polling one small query.
``fleet_revisions`` keeps every revision ever set (what ``rollout undo`` goes back to).
``fleet_nodes`` and ``fleet_node_configs`` are reported state, written by the xDS server from
the proxies' own requests: who is connected, which revision each ACKed or NACKed (with
Envoy's error text). Migration ``0005_fleet``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wasmhub.db.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


TS = DateTime(timezone=True)


class FleetDeploymentRow(Base):
    __tablename__ = "fleet_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource: Mapped[str] = mapped_column(String(200), unique=True)  # wasmhub/<ns>/<name>
    namespace: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(63))
    repository: Mapped[str] = mapped_column(String(255), index=True)
    follow_tag: Mapped[bool] = mapped_column(Boolean, default=False)
    stable_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    candidate_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # {"percent": 34} or {"nodes": [...]}; None: every node at once.
    stage: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The nodes of the first stage (frozen when the rollout starts); None: every node.
    stage_nodes: Mapped[Any] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # progressing | complete | halted
    message: Mapped[str] = mapped_column(Text, default="")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class FleetRevisionRow(Base):
    __tablename__ = "fleet_revisions"

    deployment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("fleet_deployments.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[Any] = mapped_column(JSON)  # the resolved PluginDeployment document
    tag: Mapped[str | None] = mapped_column(String(128), nullable=True)
    digest: Mapped[str] = mapped_column(String(80))
    module_sha256: Mapped[str] = mapped_column(String(64))
    # Envoy version ("1.34") -> {"status": ..., "reasons": [...]} from the inspector's data.
    verdicts: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(32))  # set | undo | tag-moved
    promoted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # became stable
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="")


class FleetNodeRow(Base):
    __tablename__ = "fleet_nodes"

    node_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    cluster: Mapped[str] = mapped_column(String(255), default="")
    locality: Mapped[Any] = mapped_column(JSON, nullable=True)  # region/zone/sub_zone
    envoy_version: Mapped[str] = mapped_column(String(32), default="")
    user_agent: Mapped[str] = mapped_column(String(64), default="")
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    connected_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class FleetNodeConfigRow(Base):
    __tablename__ = "fleet_node_configs"

    node_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("fleet_nodes.node_id", ondelete="CASCADE"), primary_key=True)
    resource: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acked_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acked_digest: Mapped[str | None] = mapped_column(String(80), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    nacked_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    nack_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    nacked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    held: Mapped[str | None] = mapped_column(Text, nullable=True)  # why a revision is held back
