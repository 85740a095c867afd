"""Trust policies and the one check every pull, run and deploy path calls: ``ensure_trusted``.

Modes, per namespace with a hub-wide default (``*``; built in: ``optional``):

- ``optional``: signatures are shown and verified on request, never required;
- ``required-for-deploy``: ``wasmhub deploy``, the operator and ECDS rollouts refuse a
  plugin without a valid signature by a trusted key of its namespace; pulls still work;
- ``required-for-pull``: as above, and ``wasmhub pull`` / ``run`` / ``test`` on a
  registry reference refuse it too.

``--force`` never overrides a policy that requires a signature (it is refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from wasmhub.errors import InputError
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import UntrustedPlugin, VerificationFailed
from wasmhub.signing.keys import PublicKey
from wasmhub.signing.verify import Expected, TrustedKey

if TYPE_CHECKING:  # remote pulls in httpx; the hub imports this module at start-up
    from wasmhub.signing.remote import RegistryReader, Report


class TrustMode(StrEnum):
    OPTIONAL = "optional"
    REQUIRED_FOR_DEPLOY = "required-for-deploy"
    REQUIRED_FOR_PULL = "required-for-pull"


class Purpose(StrEnum):
    PULL = "pull"  # also run / test on a registry reference
    DEPLOY = "deploy"


def parse_mode(text: str) -> TrustMode:
    try:
        return TrustMode(text)
    except ValueError:
        raise InputError(f"unknown trust policy {text!r}; use one of "
                         + ", ".join(m.value for m in TrustMode)) from None


@dataclass(frozen=True)
class Policy:
    namespace: str
    mode: TrustMode
    source: str  # "namespace", "default" (the hub-wide row) or "built-in"

    def requires(self, purpose: Purpose) -> bool:
        if purpose is Purpose.DEPLOY:
            return self.mode is not TrustMode.OPTIONAL
        return self.mode is TrustMode.REQUIRED_FOR_PULL

    def to_json(self) -> dict[str, str]:
        return {"namespace": self.namespace, "mode": self.mode.value, "source": self.source}


@dataclass(frozen=True)
class TrustDecision:
    reference: str
    digest: str
    policy: Policy
    purpose: Purpose
    required: bool
    report: Report | None  # None when the policy did not require verification

    @property
    def signed_by(self) -> list[str]:
        return [v.key.label for v in self.report.signatures] if self.report else []


def ensure_trusted(ref: Reference, digest: str, policy: Policy, keys: Sequence[TrustedKey],
                   reader: RegistryReader, purpose: Purpose, *,
                   force: bool = False) -> TrustDecision:
    """Refuse ``ref``@``digest`` for ``purpose`` unless ``policy`` lets it through.

    When the policy requires a signature, one made by a valid (not revoked, not expired)
    key in ``keys`` over exactly ``digest`` for ``ref.repository`` must verify; otherwise
    ``UntrustedPlugin`` names the policy, the namespace and every signature's reason.
    ``force`` is accepted only when the policy does not require a signature.
    """
    what = f"{ref.registry}/{ref.repository}@{digest}"
    if not policy.requires(purpose):
        return TrustDecision(str(ref), digest, policy, purpose, False, None)
    rule = f"the {policy.mode.value} trust policy of namespace {policy.namespace!r}"
    if force:
        raise UntrustedPlugin(f"--force is refused: {rule} requires a verified signature "
                              f"to {purpose.value} {what}")
    if not keys:
        raise UntrustedPlugin(f"{what} is refused by {rule}: the namespace has no trusted "
                              "keys registered")
    from wasmhub.signing.remote import require_signature, verify_manifest

    expected = Expected(digest, ref.repository)
    try:
        report = verify_manifest(reader, expected, keys)
        require_signature(report, what)
    except VerificationFailed as exc:
        raise UntrustedPlugin(f"{purpose.value} refused by {rule}: {exc.message}",
                              exc.rejections) from exc
    return TrustDecision(str(ref), digest, policy, purpose, True, report)


def keys_from_json(items: list[dict[str, Any]]) -> list[TrustedKey]:
    """The ``keys`` of the hub's ``/api/v1/namespaces/{ns}/trust`` answer."""
    keys = []
    for item in items:
        keys.append(TrustedKey(
            PublicKey.from_pem(str(item["public_key"]).encode(), f"key {item.get('name')}"),
            str(item["name"]), str(item["namespace"]), _when(item.get("expires_at")),
            _when(item.get("revoked_at")), item.get("revoked_reason")))
    return keys


def policy_from_json(data: dict[str, Any]) -> Policy:
    return Policy(str(data["namespace"]), parse_mode(str(data["mode"])), str(data["source"]))


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
