"""Parse and validate image manifests and indexes (OCI v1.1 and Docker schema 2).

:func:`parse_manifest` takes the bytes a client PUT and its ``Content-Type`` and returns a
:class:`ParsedManifest` naming every blob and child manifest it references, the subject
(for the referrers API) and the effective artifact type. Every rule broken is a
``MANIFEST_INVALID`` (or ``DIGEST_INVALID`` for a malformed descriptor digest) whose
message says which field is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wasmhub.oci.digest import Digest
from wasmhub.oci.errors import DigestInvalid, ManifestInvalid
from wasmhub.oci.media_types import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MediaType,
    base_media_type,
)

# Content types clients send when they do not name the manifest type.
_GENERIC_CONTENT_TYPES = frozenset({"", "application/json", "application/octet-stream"})
_DOCKER_TYPES = frozenset({MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST_LIST})


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type, "digest": self.digest, "size": self.size,
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = self.annotations
        return data


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Digests of config and layers, which must exist as blobs in the repository."""
        blobs = ((self.config,) if self.config else ()) + self.layers
        return tuple(dict.fromkeys(d.digest for d in blobs))

    @property
    def child_digests(self) -> tuple[str, ...]:
        """Digests of the manifests an index lists, which must exist in the repository."""
        return tuple(dict.fromkeys(d.digest for d in self.manifests))

    @property
    def referrer_artifact_type(self) -> str | None:
        """What the referrers API reports: ``artifactType``, else the config media type."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else None


def _fail(message: str) -> ManifestInvalid:
    return ManifestInvalid(message)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(f"{where} must be a map of strings to strings")
    return dict(value)


def _optional_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(f"{where} must be a non-empty string")
    return value


def parse_descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _fail(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise _fail(f"{where}.mediaType must be a non-empty string")
    digest = value.get("digest")
    if not isinstance(digest, str):
        raise _fail(f"{where}.digest must be a string")
    try:
        Digest.parse(digest)
    except DigestInvalid as exc:
        raise _fail(f"{where}.digest: {exc.message}") from None
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _fail(f"{where}.size must be a non-negative integer")
    urls = value.get("urls")
    if urls is not None and (
        not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)
    ):
        raise _fail(f"{where}.urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=_optional_str(value.get("artifactType"), f"{where}.artifactType"),
        annotations=_string_map(value.get("annotations"), f"{where}.annotations"),
    )


def _descriptor_list(value: Any, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise _fail(f"{where} must be a list of descriptors")
    return tuple(parse_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value))


def _resolve_media_type(doc: dict[str, Any], content_type: str) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _fail("mediaType must be a string")
    header = base_media_type(content_type)
    if header not in _GENERIC_CONTENT_TYPES:
        if header not in MANIFEST_MEDIA_TYPES:
            raise _fail(f"unsupported manifest media type {header!r}")
        if declared is not None and declared != header:
            raise _fail(f"mediaType {declared!r} does not match Content-Type {header!r}")
        return header
    if declared is not None:
        if declared not in MANIFEST_MEDIA_TYPES:
            raise _fail(f"unsupported manifest media type {declared!r}")
        return declared
    # OCI allows omitting mediaType; infer it from the shape like other registries do.
    if "manifests" in doc:
        return MediaType.OCI_INDEX
    if "config" in doc:
        return MediaType.OCI_MANIFEST
    raise _fail("cannot tell the manifest type: set Content-Type or mediaType")


def parse_manifest(payload: bytes, content_type: str = "") -> ParsedManifest:
    """Validate ``payload`` as a manifest or index; raise ManifestInvalid on any flaw."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        raise _fail("manifest JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise _fail("manifest must be a JSON object")
    schema = doc.get("schemaVersion")
    if isinstance(schema, bool) or schema != 2:
        raise _fail("schemaVersion must be 2")
    media_type = _resolve_media_type(doc, content_type)
    if media_type in _DOCKER_TYPES and doc.get("mediaType") != media_type:
        raise _fail("Docker schema 2 manifests must carry their mediaType field")
    artifact_type = _optional_str(doc.get("artifactType"), "artifactType")
    subject = (
        parse_descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    )
    annotations = _string_map(doc.get("annotations"), "annotations")
    if media_type in INDEX_MEDIA_TYPES:
        if "config" in doc or "layers" in doc:
            raise _fail("an index must not have config or layers")
        return ParsedManifest(
            media_type=media_type, config=None, layers=(),
            manifests=_descriptor_list(doc.get("manifests"), "manifests"),
            subject=subject, artifact_type=artifact_type, annotations=annotations,
        )
    if "manifests" in doc:
        raise _fail("an image manifest must not have manifests")
    if "config" not in doc:
        raise _fail("config is required")
    config = parse_descriptor(doc["config"], "config")
    return ParsedManifest(
        media_type=media_type, config=config,
        layers=_descriptor_list(doc.get("layers", []), "layers"),
        manifests=(), subject=subject, artifact_type=artifact_type, annotations=annotations,
    )
