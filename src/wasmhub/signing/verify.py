"""Verifying one signature or attestation against a set of keys, pure (no I/O).

A signature is checked cryptographically first (a payload is untrusted until then), then
its claims: the payload type, that it signs exactly the manifest digest being verified,
and that its ``docker-reference`` names the repository (and, when given, the registry)
being verified. A signature that only a revoked or expired key verifies is refused and
says which key and since when.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wasmhub.signing.errors import Rejection
from wasmhub.signing.formats import (
    IN_TOTO_PAYLOAD,
    IN_TOTO_STATEMENT,
    decode_signature,
    pae,
    parse_envelope,
    parse_payload,
)
from wasmhub.signing.keys import PublicKey


@dataclass(frozen=True)
class TrustedKey:
    """A key verification may accept, with where it comes from and its validity."""

    public: PublicKey
    name: str
    namespace: str | None = None  # the hub namespace that registered it; None: local
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def label(self) -> str:
        owner = f"{self.namespace}/" if self.namespace else ""
        return f"{owner}{self.name} ({self.public.key_id})"

    def invalid_reason(self, now: datetime) -> str | None:
        if self.revoked_at is not None:
            why = f": {self.revoked_reason}" if self.revoked_reason else ""
            return f"key {self.label} was revoked on {_day(self.revoked_at)}{why}"
        if self.expires_at is not None and _aware(self.expires_at) <= now:
            return f"key {self.label} expired on {_day(self.expires_at)}"
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(moment: datetime) -> str:
    return _aware(moment).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Expected:
    """What a signature must claim: this digest, in this repository (and registry)."""

    digest: str
    repository: str
    registry: str | None = None

    def reference_problem(self, docker_reference: str) -> str | None:
        if self.registry is not None:
            wanted = f"{self.registry}/{self.repository}"
            if docker_reference.lower() != wanted.lower():
                return (f"the payload's docker-reference is {docker_reference!r}, "
                        f"not {wanted!r}: it was signed for another repository")
            return None
        # Docker's rule: the first component is a host if it has a dot, a port or is
        # localhost; without one the whole reference is the repository path.
        first, _, rest = docker_reference.partition("/")
        has_host = bool(rest) and ("." in first or ":" in first or first == "localhost")
        path = rest if has_host else docker_reference
        if path != self.repository:
            return (f"the payload's docker-reference is {docker_reference!r}, which names "
                    f"repository {path!r}, not {self.repository!r}")
        return None


@dataclass(frozen=True)
class Verified:
    """A signature or attestation that passed."""

    kind: str  # "signature" or "attestation"
    sources: tuple[str, ...]
    key: TrustedKey
    docker_reference: str
    digest: str
    optional: dict[str, Any] = field(default_factory=dict)
    predicate_type: str | None = None
    predicate: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind, "sources": list(self.sources), "key": self.key.name,
            "key_id": self.key.public.key_id, "fingerprint": self.key.public.fingerprint,
            "namespace": self.key.namespace, "docker_reference": self.docker_reference,
            "digest": self.digest,
        }
        if self.kind == "signature":
            data["annotations"] = self.optional
        else:
            data["predicate_type"] = self.predicate_type
        return data


def _match_key(signature: bytes, data: bytes, keys: Sequence[TrustedKey],
               now: datetime) -> tuple[TrustedKey | None, str | None]:
    """(valid key that verifies, or None; the reason when only an invalid key does)."""
    invalid = None
    for key in keys:
        if key.public.verify(signature, data):
            reason = key.invalid_reason(now)
            if reason is None:
                return key, None
            invalid = invalid or reason
    return None, invalid


def _no_key(keys: Sequence[TrustedKey]) -> str:
    if not keys:
        return "there is no key to verify it with"
    names = ", ".join(k.label for k in keys[:5]) + (" …" if len(keys) > 5 else "")
    return f"it does not verify with {'the key' if len(keys) == 1 else 'any of the keys'} {names}"


def verify_signature(payload: bytes, signature_text: str, expected: Expected,
                     keys: Sequence[TrustedKey], sources: tuple[str, ...],
                     now: datetime | None = None) -> Verified | Rejection:
    source = " + ".join(sources)
    now = now or datetime.now(UTC)
    try:
        signature = decode_signature(signature_text)
    except ValueError as exc:
        return Rejection(source, str(exc))
    key, invalid = _match_key(signature, payload, keys, now)
    if key is None:
        return Rejection(source, invalid or _no_key(keys))
    try:
        claims = parse_payload(payload)
    except ValueError as exc:
        return Rejection(source, str(exc))
    if claims.digest != expected.digest:
        return Rejection(source, f"it signs {claims.digest}, not {expected.digest} "
                                 "(a signature over another manifest)")
    problem = expected.reference_problem(claims.docker_reference)
    if problem:
        return Rejection(source, problem)
    return Verified("signature", sources, key, claims.docker_reference, claims.digest,
                    claims.optional)


def verify_attestation(envelope_bytes: bytes, expected: Expected, keys: Sequence[TrustedKey],
                       source: str, now: datetime | None = None) -> Verified | Rejection:
    now = now or datetime.now(UTC)
    try:
        envelope = parse_envelope(envelope_bytes)
    except ValueError as exc:
        return Rejection(source, str(exc))
    if envelope.payload_type != IN_TOTO_PAYLOAD:
        return Rejection(source, f"the DSSE payload type is {envelope.payload_type!r}, "
                                 f"not {IN_TOTO_PAYLOAD!r}")
    if not envelope.signatures:
        return Rejection(source, "the DSSE envelope carries no signature")
    signed = pae(envelope.payload_type, envelope.payload)
    key: TrustedKey | None = None
    invalid: str | None = None
    for _keyid, text in envelope.signatures:
        try:
            raw = decode_signature(text)
        except ValueError as exc:
            invalid = invalid or str(exc)
            continue
        key, reason = _match_key(raw, signed, keys, now)
        invalid = invalid or reason
        if key is not None:
            break
    if key is None:
        return Rejection(source, invalid or _no_key(keys))
    try:
        doc = json.loads(envelope.payload)
    except (ValueError, UnicodeDecodeError):
        return Rejection(source, "the in-toto statement is not JSON")
    if not isinstance(doc, dict) or doc.get("_type") != IN_TOTO_STATEMENT:
        return Rejection(source, f"the payload is not an in-toto Statement ({IN_TOTO_STATEMENT})")
    algorithm, hex_value = expected.digest.split(":", 1)
    subjects = [s for s in doc.get("subject") or [] if isinstance(s, dict)]
    matching = [s for s in subjects if (s.get("digest") or {}).get(algorithm) == hex_value]
    if not matching:
        named = ", ".join(f"{algorithm}:{(s.get('digest') or {}).get(algorithm)}"
                          for s in subjects) or "nothing"
        return Rejection(source, f"the statement's subject is {named}, not {expected.digest}")
    name = str(matching[0].get("name") or "")
    problem = expected.reference_problem(name) if name else None
    if problem:
        return Rejection(source, problem.replace("payload's docker-reference",
                                                 "statement's subject name"))
    return Verified("attestation", (source,), key, name, expected.digest,
                    predicate_type=str(doc.get("predicateType") or ""),
                    predicate=doc.get("predicate"))
