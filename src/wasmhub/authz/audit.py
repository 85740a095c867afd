"""The audit log: who did what, when, from where, with what outcome.

Written for sign-ins (success and failure), token creation, revocation and use after
revocation, pushes, deletes, tag moves, yanks, membership, permission and visibility
changes, and trusted-key and signature-policy changes. Organization owners read their
namespace's entries (``namespace:audit``) in the UI and the API, filtered, or as JSON lines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from wasmhub.authz.models import AuditEvent
from wasmhub.authz.principal import Principal
from wasmhub.db.engine import Database
from wasmhub.registry.models import utcnow

log = logging.getLogger(__name__)
MAX_PAGE = 1000


class AuditAction(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_OUT = "sign-out"
    SIGN_UP = "sign-up"
    PASSWORD_CHANGE = "password.change"
    USER_DISABLE = "user.disable"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_USE_AFTER_REVOKE = "token.use-after-revoke"
    TOKEN_ISSUE = "registry-token.issue"
    AUTH_FAILURE = "auth.failure"
    ACCESS_DENIED = "access.denied"
    RATE_LIMITED = "rate-limited"
    PUSH = "push"
    TAG_MOVE = "tag.move"
    DELETE = "delete"
    YANK = "yank"
    DEPRECATE = "deprecate"
    STAR = "star"
    ADD_BY_URL = "add-by-url"
    VISIBILITY = "visibility.change"
    SETTINGS = "repository.settings"
    ORG_CREATE = "org.create"
    MEMBERSHIP = "membership.change"
    INVITATION = "invitation"
    TEAM = "team.change"
    PERMISSION = "permission.change"
    TRANSFER = "transfer"
    KEY_ADD = "trust.key.add"
    KEY_REVOKE = "trust.key.revoke"
    POLICY_CHANGE = "trust.policy.change"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    outcome: str
    actor: str
    namespace: str | None
    target: str
    client_addr: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "action": self.action,
                "outcome": self.outcome, "actor": self.actor, "namespace": self.namespace,
                "target": self.target, "client_addr": self.client_addr,
                "detail": self.detail}


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.db = database

    @staticmethod
    def event(action: AuditAction, principal: Principal | None, *,
              outcome: Outcome = Outcome.SUCCESS, namespace: str | None = None,
              target: str = "", actor: str | None = None, client_addr: str = "",
              **detail: Any) -> AuditEvent:
        """One entry as a row, for a caller that adds it to its own transaction (so the
        entry commits, or not, with the change it describes)."""
        who = actor or (principal.actor if principal else "anonymous")
        addr = client_addr or (principal.client_addr if principal else "")
        return AuditEvent(at=utcnow(), action=action.value, outcome=outcome.value,
                          actor=who[:100], namespace=namespace, target=target[:400],
                          client_addr=addr[:64], detail=detail or None)

    def record(self, action: AuditAction, principal: Principal | None, *,
               outcome: Outcome = Outcome.SUCCESS, namespace: str | None = None,
               target: str = "", actor: str | None = None, client_addr: str = "",
               **detail: Any) -> None:
        """Append one entry; never fails the caller (an audit failure is logged)."""
        try:
            with self.db.session() as session:
                session.add(self.event(action, principal, outcome=outcome,
                                       namespace=namespace, target=target, actor=actor,
                                       client_addr=client_addr, **detail))
        except Exception:  # the operation it describes already happened
            log.exception("could not write audit entry %s %s", action.value, target)

    def entries(self, *, namespace: str | None = None, action: str | None = None,
                actor: str | None = None, since: datetime | None = None,
                until: datetime | None = None, limit: int = 100, before_id: int | None = None
                ) -> list[AuditEntry]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(min(limit, MAX_PAGE))
        if namespace is not None:
            query = query.where(AuditEvent.namespace == namespace)
        if action:
            query = query.where(AuditEvent.action == action)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if until is not None:
            query = query.where(AuditEvent.at < until)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        with self.db.session() as session:
            return [AuditEntry(e.id, e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC),
                               e.action, e.outcome, e.actor, e.namespace, e.target,
                               e.client_addr, dict(e.detail or {}))
                    for e in session.scalars(query)]

    def json_lines(self, **filters: Any) -> Iterator[str]:
        for entry in self.entries(**filters):
            yield json.dumps(entry.to_json(), sort_keys=True) + "\n"
