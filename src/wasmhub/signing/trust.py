"""``TrustService``: the hub's trusted keys per namespace, trust policies, and their audit.

Reads are for everyone who may read the namespace (the REST API serves them; ``verify
--org`` and ``ensure_trusted`` use them). Changes come from organization owners through the
API and the UI (a :class:`Principal`, checked with identity's one permission function for
``namespace:trust``) or from the admin CLI (``wasmhub trust ...``, a plain actor name: it
has the database itself). Every change goes through :meth:`TrustService._change`, which
opens the transaction, writes the trust audit row and then identity's audit entry.
After a key change the verified-signature index of the namespace is recomputed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wasmhub.authz.audit import AuditAction
from wasmhub.authz.permissions import Permission
from wasmhub.authz.principal import Principal
from wasmhub.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from wasmhub.signing.keys import PublicKey
from wasmhub.signing.keystore import check_name
from wasmhub.signing.models import (
    DEFAULT_POLICY_NAMESPACE,
    TrustAuditRow,
    TrustKeyRow,
    TrustPolicyRow,
)
from wasmhub.signing.policy import Policy, TrustMode
from wasmhub.signing.verify import TrustedKey

if TYPE_CHECKING:
    from wasmhub.hub import Hub

Actor = str | Principal  # a principal (API, UI) or the admin CLI's name for who acts
# The trust audit's own action names (kept from before identity's log had trust actions).
_TRUST_ACTIONS = {AuditAction.KEY_ADD: "key.add", AuditAction.KEY_REVOKE: "key.revoke",
                  AuditAction.POLICY_CHANGE: "policy.set"}
NAMESPACE_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
MAX_REASON = 1000


def check_namespace(namespace: str) -> str:
    if len(namespace) > 128 or not NAMESPACE_RE.match(namespace):
        raise InputError(f"{namespace!r} is not a namespace name (lower-case letters, digits,"
                         " '.', '_' or '-')")
    return namespace


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class KeyView:
    namespace: str
    name: str
    fingerprint: str
    public_key: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None

    @property
    def key_id(self) -> str:
        return self.fingerprint.removeprefix("sha256:")[:16]

    def status(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def trusted(self) -> TrustedKey:
        return TrustedKey(PublicKey.from_pem(self.public_key.encode()), self.name,
                          self.namespace, self.expires_at, self.revoked_at, self.revoked_reason)

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {"namespace": self.namespace, "name": self.name,
                "fingerprint": self.fingerprint, "key_id": self.key_id,
                "public_key": self.public_key, "status": self.status(),
                "created_at": iso(self.created_at), "created_by": self.created_by,
                "expires_at": iso(self.expires_at), "revoked_at": iso(self.revoked_at),
                "revoked_reason": self.revoked_reason}


def _view(row: TrustKeyRow) -> KeyView:
    created = _aware(row.created_at)
    assert created is not None
    return KeyView(row.namespace, row.name, row.fingerprint, row.public_key, created,
                   row.created_by, _aware(row.expires_at), _aware(row.revoked_at),
                   row.revoked_reason)


class TrustService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- reading ---------------------------------------------------------------------------

    def keys(self, namespace: str) -> list[KeyView]:
        """Every key the namespace registered, revoked and expired ones included."""
        check_namespace(namespace)
        with self.hub.database.session() as session:
            rows = session.scalars(select(TrustKeyRow).where(TrustKeyRow.namespace == namespace)
                                   .order_by(TrustKeyRow.name))
            return [_view(r) for r in rows]

    def trusted_keys(self, namespace: str) -> list[TrustedKey]:
        return [k.trusted() for k in self.keys(namespace)]

    def policy(self, namespace: str) -> Policy:
        check_namespace(namespace)
        with self.hub.database.session() as session:
            own = session.get(TrustPolicyRow, namespace)
            if own is not None:
                return Policy(namespace, TrustMode(own.mode), "namespace")
            default = session.get(TrustPolicyRow, DEFAULT_POLICY_NAMESPACE)
        if default is not None:
            return Policy(namespace, TrustMode(default.mode), "default")
        return Policy(namespace, TrustMode.OPTIONAL, "built-in")

    def default_policy(self) -> Policy:
        with self.hub.database.session() as session:
            row = session.get(TrustPolicyRow, DEFAULT_POLICY_NAMESPACE)
        if row is None:
            return Policy(DEFAULT_POLICY_NAMESPACE, TrustMode.OPTIONAL, "built-in")
        return Policy(DEFAULT_POLICY_NAMESPACE, TrustMode(row.mode), "default")

    def audit(self, namespace: str) -> list[dict[str, Any]]:
        with self.hub.database.session() as session:
            rows = session.scalars(select(TrustAuditRow).where(
                TrustAuditRow.namespace == namespace).order_by(TrustAuditRow.id))
            return [{"at": (_aware(r.at) or r.at).isoformat(), "actor": r.actor,
                     "action": r.action, "target": r.target, "detail": r.detail}
                    for r in rows]

    # -- changing --------------------------------------------------------------------------

    def _authorize(self, by: Actor, namespace: str | None) -> str:
        """The one permission check for trust changes; the actor's name for the audit.

        A :class:`Principal` (API, UI) needs ``namespace:trust`` on the namespace (owners,
        site admins; 404 for those who may not read a private one); the hub-wide default
        is the site admins'. A plain name is the admin CLI, which holds the database.
        """
        if isinstance(by, str):
            return by
        if namespace is None:
            if not by.is_site_admin:
                raise PermissionDeniedError("only site administrators set the hub-wide policy")
        else:
            self.hub.identity.access.require(by, Permission.NAMESPACE_TRUST,
                                             namespace=namespace,
                                             what=f"namespace {namespace}")
        return by.username or by.actor

    @contextmanager
    def _change(self, by: Actor, actor: str, action: AuditAction, namespace: str, target: str,
                detail: dict[str, Any]) -> Iterator[Session]:
        """The transaction of one trust change (``by`` authorized, named ``actor``), with
        its trust audit row; after it commits, the same change goes to identity's audit log
        (who, from where)."""
        actor = actor.strip()
        if not actor or len(actor) > 255:
            raise InputError("name who makes the change (1-255 characters)")
        with self.hub.database.session() as session:
            yield session
            session.add(TrustAuditRow(at=datetime.now(UTC), actor=actor,
                                      action=_TRUST_ACTIONS[action], namespace=namespace,
                                      target=target[:255], detail=detail))
        principal = None if isinstance(by, str) else by
        self.hub.identity.audit.record(action, principal, namespace=namespace, target=target,
                                       actor=actor if principal is None else None, **detail)

    def add_key(self, namespace: str, name: str, pem: bytes, actor: Actor,
                expires_at: datetime | None = None) -> KeyView:
        check_namespace(namespace)
        who = self._authorize(actor, namespace)  # before the input is looked at: 404 stays 404
        check_name(name)
        public = PublicKey.from_pem(pem)
        expires = _aware(expires_at)
        if expires is not None and expires <= datetime.now(UTC):
            raise InputError(f"the expiry {expires.isoformat()} is in the past")
        with self._change(actor, who, AuditAction.KEY_ADD, namespace, name,
                          {"fingerprint": public.fingerprint}) as session:
            clash = session.scalar(select(TrustKeyRow).where(
                TrustKeyRow.namespace == namespace,
                (TrustKeyRow.name == name) | (TrustKeyRow.fingerprint == public.fingerprint)))
            if clash is not None:
                same = "name" if clash.name == name else "public key"
                raise ConflictError(f"namespace {namespace} already has a key with this {same}"
                                    f" ({clash.name}, {clash.fingerprint[:23]}…)")
            row = TrustKeyRow(namespace=namespace, name=name, fingerprint=public.fingerprint,
                              public_key=public.to_pem().decode(), created_at=datetime.now(UTC),
                              created_by=who.strip(),
                              expires_at=expires)
            session.add(row)
            session.flush()
            view = _view(row)
        self._reindex(namespace)
        return view

    def find_key(self, namespace: str, ref: str) -> KeyView:
        """The key named ``ref``, or whose fingerprint (``sha256:…``, bare hex, or the
        16-digit key id) it is."""
        check_namespace(namespace)
        ref = ref.strip()
        for key in self.keys(namespace):
            if ref and ref in (key.name, key.fingerprint, key.fingerprint.removeprefix("sha256:"),
                               key.key_id):
                return key
        raise NotFoundError(f"namespace {namespace} has no key {ref!r}")

    def revoke_key(self, namespace: str, name: str, reason: str, actor: Actor) -> KeyView:
        """Revoke the key ``name`` (a name or a fingerprint, see :meth:`find_key`)."""
        check_namespace(namespace)
        who = self._authorize(actor, namespace)
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InputError(f"give a reason for the revocation (1-{MAX_REASON} characters)")
        name = self.find_key(namespace, name).name
        with self._change(actor, who, AuditAction.KEY_REVOKE, namespace, name,
                          {"reason": reason}) as session:
            row = session.scalar(select(TrustKeyRow).where(
                TrustKeyRow.namespace == namespace, TrustKeyRow.name == name))
            if row is None:
                raise NotFoundError(f"namespace {namespace} has no key {name!r}")
            if row.revoked_at is not None:
                raise ConflictError(f"key {name!r} of {namespace} is already revoked")
            row.revoked_at = datetime.now(UTC)
            row.revoked_reason = reason
            session.flush()
            view = _view(row)
        self._reindex(namespace)
        return view

    def set_policy(self, namespace: str | None, mode: TrustMode, actor: Actor) -> Policy:
        """``namespace`` None sets the hub-wide default."""
        key = DEFAULT_POLICY_NAMESPACE if namespace is None else check_namespace(namespace)
        who = self._authorize(actor, namespace).strip()
        with self._change(actor, who, AuditAction.POLICY_CHANGE, key, mode.value,
                          {"mode": mode.value}) as session:
            row = session.get(TrustPolicyRow, key)
            if row is None:
                session.add(TrustPolicyRow(namespace=key, mode=mode.value,
                                           updated_at=datetime.now(UTC), updated_by=who))
            else:
                row.mode, row.updated_at, row.updated_by = mode.value, datetime.now(UTC), who
        return self.default_policy() if namespace is None else self.policy(namespace)

    def _reindex(self, namespace: str) -> None:
        from wasmhub.signing.index import SignatureIndex

        SignatureIndex(self.hub).refresh_namespace(namespace)
