"""Small value types the registry service returns to handlers and other callers."""

from __future__ import annotations

from dataclasses import dataclass

from wasmhub.oci.manifest import Descriptor


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """A stored manifest; ``payload`` is empty when only metadata was asked for (HEAD)."""

    digest: str
    media_type: str
    size: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class PushResult:
    digest: str
    subject: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a sorted listing; ``more`` says a next page exists."""

    items: list[str]
    more: bool


@dataclass(frozen=True, slots=True)
class Referrers:
    descriptors: list[Descriptor]
    filtered_by: str | None
