"""ECDSA P-256 keys: generate, PEM import/export, fingerprints, sign and verify bytes.

Private keys are PKCS#8 PEM, encrypted with a passphrase (``ENCRYPTED PRIVATE KEY``,
PBES2 / AES-256-CBC as ``cryptography``'s best available encryption writes it, readable
by ``openssl pkey``); an unencrypted private key is accepted on import only. Public keys
are PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo), the format cosign's ``cosign.pub`` uses.
Signatures are ASN.1 DER ECDSA over SHA-256, as cosign makes them.

A key's fingerprint is ``sha256:<hex>`` of its DER SubjectPublicKeyInfo; ``key_id`` is
its first 16 hex digits, which is how keys are named in messages and in the catalog.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wasmhub.signing.errors import KeyFormatError, PassphraseError

MIN_PASSPHRASE = 8


def _check_curve(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey, what: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise KeyFormatError(f"{what} is an ECDSA {key.curve.name} key; wasmhub signs with "
                             "ECDSA P-256 (secp256r1) only, as cosign does")


@dataclass(frozen=True)
class PublicKey:
    """A verifying key."""

    key: ec.EllipticCurvePublicKey

    @classmethod
    def from_pem(cls, data: bytes, what: str = "the public key") -> PublicKey:
        text = data.strip()
        if b"PRIVATE KEY" in text and b"PUBLIC KEY" not in text:
            raise KeyFormatError(f"{what} is a private key; give the public key (PEM PUBLIC KEY)")
        try:
            loaded = serialization.load_pem_public_key(text)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"{what} is not a PEM PUBLIC KEY ({_why(exc)})") from None
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise KeyFormatError(f"{what} is a {type(loaded).__name__.removeprefix('_')} key;"
                                 " wasmhub uses ECDSA P-256 keys")
        _check_curve(loaded, what)
        return cls(loaded)

    def to_pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        der = self.key.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        return "sha256:" + hashlib.sha256(der).hexdigest()

    @property
    def key_id(self) -> str:
        return self.fingerprint.removeprefix("sha256:")[:16]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` (DER) is this key's ECDSA/SHA-256 signature of ``data``."""
        try:
            self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private ECDSA P-256 key (never written unencrypted)."""

    key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, data: bytes, passphrase: str | None,
                 what: str = "the private key") -> SigningKey:
        text = data.strip()
        if b"SIGSTORE PRIVATE KEY" in text or b"COSIGN PRIVATE KEY" in text:
            raise KeyFormatError(
                f"{what} is in cosign's own encrypted format (scrypt + secretbox), which "
                "wasmhub does not read; import a PKCS#8 PEM key, e.g. one from `wasmhub key "
                "generate`, or verify cosign signatures with its cosign.pub")
        if b"PRIVATE KEY" not in text:
            raise KeyFormatError(f"{what} is not a PEM private key")
        encrypted = b"ENCRYPTED" in text or b"Proc-Type: 4,ENCRYPTED" in text
        if encrypted and not passphrase:
            raise PassphraseError(f"{what} is encrypted: give its passphrase "
                                  "(WASMHUB_KEY_PASSPHRASE or --passphrase-stdin)")
        password = passphrase.encode() if encrypted and passphrase else None
        try:
            loaded = serialization.load_pem_private_key(text, password=password)
        except TypeError:
            raise PassphraseError(f"{what} is encrypted: give its passphrase") from None
        except (ValueError, UnsupportedAlgorithm) as exc:
            if encrypted:
                raise PassphraseError(f"wrong passphrase for {what}") from None
            raise KeyFormatError(f"{what} is not a usable PEM private key ({_why(exc)})") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise KeyFormatError(f"{what} is a {type(loaded).__name__.removeprefix('_')} key;"
                                 " wasmhub signs with ECDSA P-256 keys")
        _check_curve(loaded, what)
        return cls(loaded)

    def to_pem(self, passphrase: str) -> bytes:
        """Encrypted PKCS#8 PEM; the passphrase must have at least 8 characters."""
        if len(passphrase) < MIN_PASSPHRASE:
            raise PassphraseError(f"the passphrase must have at least {MIN_PASSPHRASE} "
                                  "characters (private keys are never stored unencrypted)")
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA/SHA-256 signature of ``data``."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
