"""The local key store: a directory of named key pairs the CLI signs and verifies with.

Location: ``$WASMHUB_KEY_DIR``, else ``$XDG_CONFIG_HOME/wasmhub/keys``, else
``~/.config/wasmhub/keys`` (created with mode 0700). A key named ``release`` is
``release.key`` (encrypted PKCS#8 PEM, mode 0600) plus ``release.pub`` (PEM public key);
a store entry may hold only the ``.pub`` (someone else's key, for verifying). Files are
written to a temporary name, fsynced and renamed, so a failure leaves no half key pair.

``resolve_private``/``resolve_public`` accept a store name or a path to a PEM file, which
is what ``--key`` takes.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from wasmhub.signing.errors import KeyExists, KeyFormatError, KeyNotFound
from wasmhub.signing.keys import PublicKey, SigningKey

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_key_dir() -> Path:
    explicit = os.environ.get("WASMHUB_KEY_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wasmhub" / "keys"


@dataclass(frozen=True)
class StoredKey:
    name: str
    public: PublicKey
    has_private: bool
    public_path: Path
    private_path: Path | None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "fingerprint": self.public.fingerprint,
                "key_id": self.public.key_id, "private": self.has_private,
                "public_key": str(self.public_path),
                "private_key": str(self.private_path) if self.private_path else None}


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise KeyFormatError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
                             " starting with a letter or digit")
    return name


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class KeyStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_key_dir()

    def _paths(self, name: str) -> tuple[Path, Path]:
        check_name(name)
        return self.path / f"{name}.key", self.path / f"{name}.pub"

    def _ensure_dir(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, name: str, public: PublicKey, private: SigningKey | None = None,
            passphrase: str | None = None, *, replace: bool = False) -> StoredKey:
        """Store a key pair (or a public key alone); the private key is encrypted."""
        private_path, public_path = self._paths(name)
        if not replace and (private_path.exists() or public_path.exists()):
            raise KeyExists(f"key {name!r} already exists in {self.path}")
        private_pem = None
        if private is not None:
            if passphrase is None:
                raise KeyFormatError("a passphrase is required to store a private key")
            private_pem = private.to_pem(passphrase)  # checks the passphrase before writing
        self._ensure_dir()
        try:
            if private_pem is not None:
                _write_atomic(private_path, private_pem, 0o600)
            elif replace:
                private_path.unlink(missing_ok=True)
            _write_atomic(public_path, public.to_pem(), 0o644)
        except BaseException:
            if private_pem is not None:
                private_path.unlink(missing_ok=True)
            raise
        return self.get(name)

    def get(self, name: str) -> StoredKey:
        private_path, public_path = self._paths(name)
        if not public_path.exists():
            raise KeyNotFound(f"no key {name!r} in {self.path} (see `wasmhub key list`)")
        public = PublicKey.from_pem(public_path.read_bytes(), str(public_path))
        has_private = private_path.exists()
        return StoredKey(name, public, has_private, public_path,
                         private_path if has_private else None)

    def list(self) -> list[StoredKey]:
        if not self.path.is_dir():
            return []
        keys = []
        for pub in sorted(self.path.glob("*.pub")):
            if NAME_RE.match(pub.stem):
                keys.append(self.get(pub.stem))
        return keys

    def private_path(self, ref: str) -> Path:
        """``--key`` for signing: a store name or a PEM file path."""
        path = Path(ref).expanduser()
        if path.is_file():
            return path
        if NAME_RE.match(ref):
            stored = self.get(ref)
            if stored.private_path is None:
                raise KeyNotFound(f"key {ref!r} in {self.path} has no private key (public only)")
            return stored.private_path
        raise KeyNotFound(f"{ref} is neither a key file nor a key in {self.path}")

    def resolve_private(self, ref: str, passphrase: str | None) -> SigningKey:
        path = self.private_path(ref)
        return SigningKey.from_pem(path.read_bytes(), passphrase, str(path))

    def resolve_public(self, ref: str) -> PublicKey:
        """``--key`` for verifying: a store name, a public PEM file, or a private key's
        ``.pub`` twin when the file given is a ``.key``."""
        path = Path(ref).expanduser()
        if path.is_file():
            data = path.read_bytes()
            if b"PRIVATE KEY" in data and b"PUBLIC KEY" not in data:
                twin = path.with_suffix(".pub")
                if twin.is_file():
                    return PublicKey.from_pem(twin.read_bytes(), str(twin))
            return PublicKey.from_pem(data, str(path))
        if NAME_RE.match(ref):
            return self.get(ref).public
        raise KeyNotFound(f"{ref} is neither a key file nor a key in {self.path}")
