"""Typed errors of ``wasmhub.signing``; each derives from the ``wasmhub.errors`` tree.

- ``KeyFormatError`` (InputError): a file is not a PEM ECDSA P-256 key we can use.
- ``PassphraseError`` (InputError): the private key's passphrase is missing or wrong.
- ``KeyNotFound`` (NotFoundError) / ``KeyExists`` (ConflictError): the local key store.
- ``NothingToSign`` (NotFoundError): the reference names no manifest.
- ``VerificationFailed`` (PermissionDeniedError): no signature or attestation passed;
  ``rejections`` lists each one that was looked at and why it was refused.
- ``UntrustedPlugin`` (VerificationFailed): a trust policy refused a plugin
  (``ensure_trusted``); the message names the policy, the namespace and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmhub.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError


class KeyFormatError(InputError):
    pass


class PassphraseError(InputError):
    pass


class KeyNotFound(NotFoundError):
    pass


class KeyExists(ConflictError):
    pass


class NothingToSign(NotFoundError):
    pass


class AttestationInputError(InputError):
    """The SBOM or provenance file is not a document of the declared type."""


@dataclass(frozen=True)
class Rejection:
    """One signature (or attestation) that did not verify, and why."""

    source: str  # "cosign-tag sha256-….sig layer 1", "referrer sha256:…"
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason}


class VerificationFailed(PermissionDeniedError):
    def __init__(self, message: str, rejections: tuple[Rejection, ...] = ()) -> None:
        super().__init__(message, detail=[r.to_json() for r in rejections])
        self.rejections = rejections


class UntrustedPlugin(VerificationFailed):
    pass
