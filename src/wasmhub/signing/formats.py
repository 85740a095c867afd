"""The signature and attestation formats, pure (no I/O): what wasmhub writes and reads.

Signatures (cosign's key-pair format, docs/trust.md):

- payload: the "simple signing" JSON ``{"critical": {"identity": {"docker-reference":
  "<registry>/<repo>"}, "image": {"docker-manifest-digest": "sha256:<hex>"}, "type":
  "cosign container image signature"}, "optional": {...}}``;
- one layer per signature, media type ``application/vnd.dev.cosign.simplesigning.v1+json``,
  the blob is the payload, the annotation ``dev.cosignproject.cosign/signature`` holds the
  base64 DER ECDSA P-256/SHA-256 signature over exactly the payload bytes;
- stored twice: under the cosign tag ``sha256-<hex>.sig`` (an OCI image manifest whose
  layers accumulate one per signature, as cosign appends them) and as an OCI 1.1 referrer
  (an image manifest with ``subject`` = the signed manifest, ``artifactType``
  ``application/vnd.dev.cosign.artifact.sig.v1+json``, as cosign's OCI 1.1 mode writes).

Attestations: a DSSE envelope (``application/vnd.dsse.envelope.v1+json``) whose payload
is an in-toto Statement v1 naming the signed manifest as its subject, signed over DSSE's
pre-authentication encoding, stored as a referrer with that artifactType.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from wasmhub.oci.digest import sha256_digest
from wasmhub.oci.media_types import MediaType

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIGSTORE_BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "cosign container image signature"
KEY_ID_ANNOTATION = "dev.wasmhub.signature.key-id"  # a hint for listings, never trusted
ATTESTATION_KIND_ANNOTATION = "dev.wasmhub.attestation.kind"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"
EMPTY_CONFIG = b"{}"


def cosign_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.sig``."""
    return digest.replace(":", "-", 1) + ".sig"


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def simple_signing_payload(docker_reference: str, digest: str,
                           optional: dict[str, str] | None = None) -> bytes:
    return canonical_json({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": dict(optional or {}),
    })


@dataclass(frozen=True)
class SimpleSigningClaims:
    docker_reference: str
    digest: str
    optional: dict[str, Any]


def parse_payload(data: bytes) -> SimpleSigningClaims:
    """The claims of a simple-signing payload; ValueError naming what is wrong."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the payload is not JSON") from None
    critical = doc.get("critical") if isinstance(doc, dict) else None
    if not isinstance(critical, dict):
        raise ValueError("the payload has no 'critical' section")
    if critical.get("type") != PAYLOAD_TYPE:
        raise ValueError(f"the payload type is {critical.get('type')!r}, not {PAYLOAD_TYPE!r}")
    identity = critical.get("identity") or {}
    image = critical.get("image") or {}
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(reference, str) or not isinstance(digest, str):
        raise ValueError("the payload lacks docker-reference or docker-manifest-digest")
    optional = doc.get("optional")
    return SimpleSigningClaims(reference, digest, optional if isinstance(optional, dict) else {})


def decode_signature(text: str) -> bytes:
    """Strict base64 of a DER signature; ValueError for empty, non-base64 or truncated."""
    if not text.strip():
        raise ValueError("the signature annotation is empty")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the signature annotation is not base64") from None
    try:
        decode_dss_signature(raw)
    except ValueError:
        raise ValueError("the signature is truncated or not an ASN.1 DER ECDSA signature")\
            from None
    return raw


def encode_signature(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Layer:
    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                                 "size": len(self.data)}
        if self.annotations:
            entry["annotations"] = dict(self.annotations)
        return entry


def signature_layer(payload: bytes, signature: bytes) -> Layer:
    return Layer(SIMPLE_SIGNING, payload, {SIGNATURE_ANNOTATION: encode_signature(signature)})


def empty_config_descriptor() -> dict[str, Any]:
    return {"mediaType": MediaType.OCI_EMPTY.value, "digest": sha256_digest(EMPTY_CONFIG),
            "size": len(EMPTY_CONFIG)}


def cosign_config(layer_digests: list[str]) -> bytes:
    """The image config cosign writes for its ``.sig`` manifests."""
    return canonical_json({"architecture": "", "os": "", "config": {},
                           "rootfs": {"type": "layers", "diff_ids": layer_digests}})


def cosign_manifest(layers: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """(manifest, config blob) of a cosign-tag signature manifest with these layers."""
    config = cosign_config([str(layer["digest"]) for layer in layers])
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST.value,
        "config": {"mediaType": MediaType.OCI_CONFIG.value, "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": layers,
    })
    return manifest, config


def referrer_manifest(subject: dict[str, Any], artifact_type: str, layer: Layer,
                      annotations: dict[str, str] | None = None) -> bytes:
    """An OCI 1.1 referrer: empty config, one layer, ``subject`` and ``artifactType``."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST.value,
        "artifactType": artifact_type,
        "config": empty_config_descriptor(),
        "layers": [layer.descriptor()],
        "subject": {"mediaType": subject["mediaType"], "digest": subject["digest"],
                    "size": subject["size"]},
    }
    if annotations:
        doc["annotations"] = dict(annotations)
    return canonical_json(doc)


def signature_layers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The simple-signing layer descriptors of a signature manifest, in order."""
    return [layer for layer in manifest.get("layers") or []
            if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING]


# -- DSSE / in-toto ------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def dsse_envelope(payload: bytes, signature: bytes, key_id: str) -> bytes:
    return canonical_json({
        "payloadType": IN_TOTO_PAYLOAD,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id, "sig": encode_signature(signature)}],
    })


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, str], ...]  # (keyid, base64 sig)


def parse_envelope(data: bytes) -> Envelope:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the DSSE envelope is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("payload"), str):
        raise ValueError("the DSSE envelope has no payload")
    try:
        payload = base64.b64decode(doc["payload"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the DSSE payload is not base64") from None
    sigs = tuple((str(s.get("keyid", "")), str(s.get("sig", "")))
                 for s in doc.get("signatures") or [] if isinstance(s, dict))
    return Envelope(str(doc.get("payloadType", "")), payload, sigs)


def statement(name: str, digest: str, predicate_type: str, predicate: Any) -> bytes:
    algorithm, hex_value = digest.split(":", 1)
    return canonical_json({
        "_type": IN_TOTO_STATEMENT,
        "subject": [{"name": name, "digest": {algorithm: hex_value}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    })
