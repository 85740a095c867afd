"""Content digests (``algorithm:encoded``) as the OCI image spec defines them.

Only the registered algorithms are accepted: ``sha256`` (64 lowercase hex) and
``sha512`` (128 lowercase hex). Anything else is ``DIGEST_INVALID`` on the wire.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from wasmhub.oci.errors import DigestInvalid


class DigestAlgorithm(StrEnum):
    SHA256 = "sha256"
    SHA512 = "sha512"

    @property
    def hex_length(self) -> int:
        return 64 if self is DigestAlgorithm.SHA256 else 128


class Hasher(Protocol):
    """The part of ``hashlib`` hash objects we use."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Hasher: ...


# The general grammar from the image spec; registered algorithms are checked after it.
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX_RE = re.compile(r"^[a-f0-9]+$")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: DigestAlgorithm
    encoded: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate ``text``; raises DigestInvalid saying what is wrong."""
        if not _DIGEST_RE.match(text):
            raise DigestInvalid(f"{text[:150]!r} is not a digest (algorithm:hex)")
        algorithm, _, encoded = text.partition(":")
        try:
            algo = DigestAlgorithm(algorithm)
        except ValueError:
            raise DigestInvalid(
                f"unsupported digest algorithm {algorithm!r}; use sha256 or sha512"
            ) from None
        if len(encoded) != algo.hex_length or not _HEX_RE.match(encoded):
            raise DigestInvalid(
                f"{algo} digest must be {algo.hex_length} lowercase hex characters"
            )
        return cls(algo, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> Digest:
        return cls(algorithm, hashlib.new(algorithm.value, data).hexdigest())

    def hasher(self) -> Hasher:
        """A fresh hash object of this digest's algorithm."""
        return new_hasher(self.algorithm)

    def matches(self, data: bytes) -> bool:
        return Digest.of(data, self.algorithm) == self


def new_hasher(algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> Hasher:
    return hashlib.new(algorithm.value)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``, the canonical digest form."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_valid_digest(text: str) -> bool:
    """True when ``text`` is a digest :meth:`Digest.parse` accepts."""
    try:
        Digest.parse(text)
    except DigestInvalid:
        return False
    return True


def is_digest(text: str) -> bool:
    """True when ``text`` looks like a digest (any algorithm); tags never contain ':'."""
    return ":" in text
