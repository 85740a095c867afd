"""Signatures and attestations in a registry: discover, verify, sign, attest.

Reading goes through the small :class:`RegistryReader` protocol so the same discovery
and verification serve the CLI (``ClientReader`` over ``wasmhub.client.RegistryClient``,
any OCI registry) and the hub itself (``wasmhub.signing.hubside.ServiceReader`` over its
own registry service). Writing uses ``RegistryClient`` only.

Discovery looks in both places a signature may be: the cosign tag ``sha256-<hex>.sig``
and the OCI 1.1 referrers of the digest (the client falls back to the referrers tag
schema on registries without the API). A signature found in both counts once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wasmhub.client.errors import RegistryError
from wasmhub.client.registry import RegistryClient
from wasmhub.errors import InputError, WasmhubError
from wasmhub.oci.digest import sha256_digest
from wasmhub.oci.media_types import MediaType
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import NothingToSign, Rejection, VerificationFailed
from wasmhub.signing.formats import (
    ATTESTATION_KIND_ANNOTATION,
    DSSE_ENVELOPE,
    EMPTY_CONFIG,
    IN_TOTO_PAYLOAD,
    KEY_ID_ANNOTATION,
    PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIGNATURE_ARTIFACT_TYPE,
    Layer,
    cosign_manifest,
    cosign_tag,
    dsse_envelope,
    pae,
    referrer_manifest,
    signature_layer,
    signature_layers,
    simple_signing_payload,
    statement,
)
from wasmhub.signing.keys import SigningKey
from wasmhub.signing.verify import (
    Expected,
    TrustedKey,
    Verified,
    verify_attestation,
    verify_signature,
)

MAX_SIGNATURE_BLOB = 1 << 20  # payloads are a few hundred bytes; envelopes carry documents
MAX_ATTESTATION_BLOB = 16 << 20


class RegistryReader(Protocol):
    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        """(payload, media type, digest) of a manifest, or None when it does not exist."""
        ...

    def exists(self, repository: str, digest: str) -> bool:
        """Whether the manifest ``digest`` exists (without counting a download)."""
        ...

    def blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        """A blob's bytes, verified against its digest."""
        ...

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]]:
        """The descriptors of the referrers index of ``digest``."""
        ...


class ClientReader:
    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        try:
            found = self.client.get_manifest(repository, reference,
                                             (MediaType.OCI_MANIFEST, MediaType.OCI_INDEX))
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return found.payload, found.media_type, found.digest

    def exists(self, repository: str, digest: str) -> bool:
        return self.client.head_manifest(repository, digest) is not None

    def blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        return self.client.fetch_blob(repository, digest, max_bytes=max_bytes)

    def referrers(self, repository: str, digest: str) -> list[dict[str, Any]]:
        index = self.client.referrers(repository, digest)
        return [m for m in index.get("manifests") or [] if isinstance(m, dict)]


@dataclass
class Candidate:
    kind: str  # "signature" | "attestation"
    data: bytes  # payload or DSSE envelope
    sources: list[str]
    signature: str = ""  # base64, for signatures
    attestation_kind: str = ""
    manifest_digest: str = ""


@dataclass
class Discovery:
    candidates: list[Candidate] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)  # referrers we do not read
    rejections: list[Rejection] = field(default_factory=list)
    referrer_count: int = 0


def _json(payload: bytes) -> dict[str, Any]:
    doc = json.loads(payload)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _add_signatures(reader: RegistryReader, repository: str, manifest: dict[str, Any],
                    where: str, out: Discovery, seen: dict[tuple[str, str], Candidate]) -> None:
    for index, layer in enumerate(signature_layers(manifest), start=1):
        source = f"{where} layer {index}" if where.startswith("tag") else where
        text = str((layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION, ""))
        digest = str(layer.get("digest", ""))
        key = (digest, text)
        if key in seen:
            seen[key].sources.append(source)
            continue
        try:
            payload = reader.blob(repository, digest, MAX_SIGNATURE_BLOB)
        except WasmhubError as exc:
            out.rejections.append(Rejection(source, f"its payload {digest} cannot be read: "
                                                    f"{exc.message}"))
            continue
        candidate = Candidate("signature", payload, [source], signature=text)
        seen[key] = candidate
        out.candidates.append(candidate)


def discover(reader: RegistryReader, repository: str, digest: str) -> Discovery:
    """Every signature and attestation stored for ``repository@digest``."""
    out = Discovery()
    seen: dict[tuple[str, str], Candidate] = {}
    tag = cosign_tag(digest)
    found = reader.manifest(repository, tag)
    if found is not None:
        try:
            _add_signatures(reader, repository, _json(found[0]), f"tag {tag}", out, seen)
        except ValueError:
            out.rejections.append(Rejection(f"tag {tag}", "the manifest is not JSON"))
    referrers = reader.referrers(repository, digest)
    out.referrer_count = len(referrers)
    for descriptor in referrers:
        artifact_type = descriptor.get("artifactType")
        ref_digest = str(descriptor.get("digest", ""))
        source = f"referrer {ref_digest}"
        if artifact_type not in (SIGNATURE_ARTIFACT_TYPE, DSSE_ENVELOPE):
            out.others.append(descriptor)
            continue
        manifest = reader.manifest(repository, ref_digest)
        if manifest is None:
            out.rejections.append(Rejection(source, "the referrer manifest does not exist"))
            continue
        try:
            doc = _json(manifest[0])
        except ValueError:
            out.rejections.append(Rejection(source, "the referrer manifest is not JSON"))
            continue
        subject = (doc.get("subject") or {}).get("digest")
        if subject != digest:
            out.rejections.append(Rejection(source, f"its subject is {subject}, not {digest}"))
            continue
        if artifact_type == SIGNATURE_ARTIFACT_TYPE:
            _add_signatures(reader, repository, doc, source, out, seen)
            continue
        for layer in doc.get("layers") or []:
            if not isinstance(layer, dict) or layer.get("mediaType") != DSSE_ENVELOPE:
                continue
            try:
                envelope = reader.blob(repository, str(layer.get("digest")),
                                       MAX_ATTESTATION_BLOB)
            except WasmhubError as exc:
                out.rejections.append(Rejection(source, f"its envelope cannot be read: "
                                                        f"{exc.message}"))
                continue
            kind = str((doc.get("annotations") or {}).get(ATTESTATION_KIND_ANNOTATION, ""))
            out.candidates.append(Candidate("attestation", envelope, [source],
                                            attestation_kind=kind, manifest_digest=ref_digest))
    return out


@dataclass
class Report:
    """What verification found for one manifest."""

    repository: str
    digest: str
    verified: list[Verified] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)
    attestation_kinds: dict[str, str] = field(default_factory=dict)  # source -> kind

    @property
    def signatures(self) -> list[Verified]:
        return [v for v in self.verified if v.kind == "signature"]

    @property
    def attestations(self) -> list[Verified]:
        return [v for v in self.verified if v.kind == "attestation"]

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository, "digest": self.digest,
            "verified": bool(self.signatures),
            "signatures": [v.to_json() for v in self.signatures],
            "attestations": [{**v.to_json(), "type": self.attestation_kinds.get(v.sources[0])}
                             for v in self.attestations],
            "rejected": [r.to_json() for r in self.rejections],
            "other_referrers": [{"digest": o.get("digest"),
                                 "artifact_type": o.get("artifactType")} for o in self.others],
        }


def verify_manifest(reader: RegistryReader, expected: Expected,
                    keys: Sequence[TrustedKey]) -> Report:
    """Check every signature and attestation of ``expected.digest``; never raises for a bad
    signature (the report lists it), only when the subject itself does not exist."""
    found = discover(reader, expected.repository, expected.digest)
    if not reader.exists(expected.repository, expected.digest):
        where = f"{expected.repository}@{expected.digest}"
        if found.referrer_count or found.candidates:
            count = found.referrer_count or len(found.candidates)
            raise VerificationFailed(
                f"{where} does not exist: {count} signature(s) or referrer(s) point at a "
                "missing subject", tuple(found.rejections))
        raise NothingToSign(f"{where} does not exist")
    report = Report(expected.repository, expected.digest, rejections=list(found.rejections),
                    others=found.others)
    for candidate in found.candidates:
        if candidate.kind == "signature":
            result = verify_signature(candidate.data, candidate.signature, expected, keys,
                                      tuple(candidate.sources))
        else:
            result = verify_attestation(candidate.data, expected, keys, candidate.sources[0])
            report.attestation_kinds[candidate.sources[0]] = candidate.attestation_kind
        if isinstance(result, Rejection):
            report.rejections.append(result)
        else:
            report.verified.append(result)
    return report


def require_signature(report: Report, what: str) -> None:
    """Raise VerificationFailed naming why, unless a signature verified."""
    if report.signatures:
        return
    if not report.rejections:
        raise VerificationFailed(
            f"{what} has no signature (looked under tag {cosign_tag(report.digest)} and its "
            "OCI referrers)")
    first = report.rejections[0]
    more = f" (and {len(report.rejections) - 1} more)" if len(report.rejections) > 1 else ""
    raise VerificationFailed(f"no valid signature for {what}: {first.source}: "
                             f"{first.reason}{more}", tuple(report.rejections))


# -- writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignResult:
    reference: str
    digest: str
    key_id: str
    tag: str | None
    referrer: str | None
    payload_digest: str

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest, "key_id": self.key_id,
                "cosign_tag": self.tag, "referrer": self.referrer,
                "payload_digest": self.payload_digest}


def _subject(client: RegistryClient, ref: Reference) -> dict[str, Any]:
    descriptor = client.head_manifest(ref.repository, ref.reference)
    if descriptor is None:
        raise NothingToSign(f"{ref} does not exist: nothing to sign")
    if ref.digest and descriptor.digest != ref.digest:
        raise InputError(f"{ref}: the registry answered digest {descriptor.digest}")
    media_type = descriptor.media_type or MediaType.OCI_MANIFEST.value
    size = descriptor.size
    if not size:  # a HEAD without Content-Length: measure the bytes
        size = len(client.get_manifest(ref.repository, descriptor.digest).payload)
    return {"mediaType": media_type, "digest": descriptor.digest, "size": size}


def _push_referrer(client: RegistryClient, repository: str, subject: dict[str, Any],
                   artifact_type: str, layer: Layer, annotations: dict[str, str]) -> str:
    client.upload_blob(repository, layer.data, layer.digest)
    client.upload_blob(repository, EMPTY_CONFIG, sha256_digest(EMPTY_CONFIG))
    manifest = referrer_manifest(subject, artifact_type, layer, annotations)
    return client.put_referrer(repository, manifest, MediaType.OCI_MANIFEST.value,
                               str(subject["digest"]), artifact_type)


def sign_image(client: RegistryClient, ref: Reference, key: SigningKey, *,
               annotations: dict[str, str] | None = None, tag: bool = True,
               referrer: bool = True) -> SignResult:
    """Sign the manifest ``ref`` names; the key and the manifest are checked before any
    write, and a referrer already written is removed again if the tag write fails."""
    subject = _subject(client, ref)
    digest = str(subject["digest"])
    payload = simple_signing_payload(f"{ref.registry}/{ref.repository}", digest, annotations)
    signature = key.sign(payload)
    if not key.public.verify(signature, payload):  # pragma: no cover - a broken backend
        raise VerificationFailed("the new signature does not verify with its own key")
    layer = signature_layer(payload, signature)
    hint = {KEY_ID_ANNOTATION: key.public.key_id}
    referrer_digest = None
    if referrer:
        referrer_digest = _push_referrer(client, ref.repository, subject,
                                         SIGNATURE_ARTIFACT_TYPE, layer, hint)
    tag_name = None
    if tag:
        try:
            tag_name = _append_to_cosign_tag(client, ref.repository, digest, layer)
        except BaseException:
            if referrer_digest is not None:
                with contextlib.suppress(WasmhubError):
                    client.delete_manifest(ref.repository, referrer_digest)
            raise
    return SignResult(str(ref.with_digest(digest)), digest, key.public.key_id, tag_name,
                      referrer_digest, layer.digest)


def _append_to_cosign_tag(client: RegistryClient, repository: str, digest: str,
                          layer: Layer) -> str:
    tag = cosign_tag(digest)
    layers: list[dict[str, Any]] = []
    try:
        existing = client.get_manifest(repository, tag, (MediaType.OCI_MANIFEST,))
        layers = [entry for entry in existing.json().get("layers") or []
                  if isinstance(entry, dict)]
    except RegistryError as exc:
        if exc.status != 404:
            raise
    new = layer.descriptor()  # carries only the signature annotation
    if new not in layers:
        layers.append(new)
    client.upload_blob(repository, layer.data, layer.digest)
    manifest, config = cosign_manifest(layers)
    client.upload_blob(repository, config, sha256_digest(config))
    client.put_manifest(repository, tag, manifest, MediaType.OCI_MANIFEST.value)
    return tag


@dataclass(frozen=True)
class AttestResult:
    reference: str
    digest: str
    kind: str
    predicate_type: str
    referrer: str
    key_id: str

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest, "type": self.kind,
                "predicate_type": self.predicate_type, "referrer": self.referrer,
                "key_id": self.key_id}


def attest_image(client: RegistryClient, ref: Reference, key: SigningKey, kind: str,
                 predicate_type: str, predicate: Any) -> AttestResult:
    """Attach a signed in-toto statement about ``ref`` as an OCI referrer."""
    subject = _subject(client, ref)
    digest = str(subject["digest"])
    body = statement(f"{ref.registry}/{ref.repository}", digest, predicate_type, predicate)
    signature = key.sign(pae(IN_TOTO_PAYLOAD, body))
    envelope = dsse_envelope(body, signature, key.public.key_id)
    layer = Layer(DSSE_ENVELOPE, envelope, {PREDICATE_TYPE_ANNOTATION: predicate_type})
    annotations = {ATTESTATION_KIND_ANNOTATION: kind, PREDICATE_TYPE_ANNOTATION: predicate_type,
                   KEY_ID_ANNOTATION: key.public.key_id}
    referrer = _push_referrer(client, ref.repository, subject, DSSE_ENVELOPE, layer,
                              annotations)
    return AttestResult(str(ref.with_digest(digest)), digest, kind, predicate_type, referrer,
                        key.public.key_id)
