"""Manifest and index parsing: every media type and every validation rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wasmhub.oci.digest import sha256_digest
from wasmhub.oci.errors import ManifestInvalid
from wasmhub.oci.manifest import parse_manifest
from wasmhub.oci.media_types import MediaType

CFG = sha256_digest(b"{}")
LAYER = sha256_digest(b"layer")


def manifest(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MediaType.OCI_MANIFEST,
        "config": {"mediaType": MediaType.CNCF_CONFIG, "digest": CFG, "size": 2},
        "layers": [{"mediaType": MediaType.WASM_TO_OCI_LAYER, "digest": LAYER, "size": 5}],
    }
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_oci_manifest() -> None:
    subject = {"mediaType": MediaType.OCI_MANIFEST, "digest": LAYER, "size": 9}
    parsed = parse_manifest(
        raw(manifest(subject=subject, annotations={"a": "b"})), MediaType.OCI_MANIFEST
    )
    assert parsed.media_type == MediaType.OCI_MANIFEST
    assert parsed.blob_digests == (CFG, LAYER)
    assert parsed.subject is not None and parsed.subject.digest == LAYER
    assert parsed.referrer_artifact_type == MediaType.CNCF_CONFIG
    assert parsed.annotations == {"a": "b"} and not parsed.is_index


def test_artifact_type_and_inferred_media_type() -> None:
    doc = manifest(mediaType=None, artifactType="application/x.sig")
    parsed = parse_manifest(raw(doc), "application/json")
    assert parsed.media_type == MediaType.OCI_MANIFEST
    assert parsed.referrer_artifact_type == "application/x.sig"


def test_indexes() -> None:
    child = {"mediaType": MediaType.OCI_MANIFEST, "digest": LAYER, "size": 5,
             "platform": {"os": "linux"}}
    parsed = parse_manifest(
        raw({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [child]}),
        MediaType.OCI_INDEX,
    )
    assert parsed.is_index and parsed.child_digests == (LAYER,) and parsed.blob_digests == ()
    docker = {"schemaVersion": 2, "mediaType": MediaType.DOCKER_MANIFEST_LIST, "manifests": []}
    assert parse_manifest(raw(docker), MediaType.DOCKER_MANIFEST_LIST).is_index
    inferred = parse_manifest(raw({"schemaVersion": 2, "manifests": []}))
    assert inferred.media_type == MediaType.OCI_INDEX


def test_docker_manifest() -> None:
    doc = manifest(mediaType=MediaType.DOCKER_MANIFEST)
    assert parse_manifest(raw(doc), MediaType.DOCKER_MANIFEST).media_type == (
        MediaType.DOCKER_MANIFEST
    )
    with pytest.raises(ManifestInvalid, match="mediaType field"):
        parse_manifest(raw(manifest(mediaType=None)), MediaType.DOCKER_MANIFEST)


@pytest.mark.parametrize(
    ("payload", "content_type", "message"),
    [
        (b"{not json", MediaType.OCI_MANIFEST, "not valid JSON"),
        (b"\xff\xfe", MediaType.OCI_MANIFEST, "not valid JSON"),
        (b"[1]", MediaType.OCI_MANIFEST, "JSON object"),
        (raw(manifest(schemaVersion=1)), MediaType.OCI_MANIFEST, "schemaVersion"),
        (raw(manifest(schemaVersion=True)), MediaType.OCI_MANIFEST, "schemaVersion"),
        (raw(manifest()), "application/vnd.example+json", "unsupported manifest media type"),
        (raw(manifest()), MediaType.OCI_INDEX, "does not match"),
        (raw(manifest(mediaType="text/plain")), "", "unsupported manifest media type"),
        (raw({"schemaVersion": 2}), "", "cannot tell"),
        (raw(manifest(config=None)), MediaType.OCI_MANIFEST, "config is required"),
        (raw(manifest(layers={})), MediaType.OCI_MANIFEST, "layers must be a list"),
        (raw(manifest(layers=[{"digest": LAYER, "size": 1}])), "", r"layers\[0\].mediaType"),
        (raw(manifest(layers=[{"mediaType": "x", "digest": "sha256:zz", "size": 1}])), "",
         r"layers\[0\].digest"),
        (raw(manifest(layers=[{"mediaType": "x", "digest": LAYER, "size": -1}])), "",
         "size must be"),
        (raw(manifest(layers=[{"mediaType": "x", "digest": LAYER, "size": "1"}])), "",
         "size must be"),
        (raw(manifest(annotations={"a": 1})), "", "annotations"),
        (raw(manifest(artifactType="")), "", "artifactType"),
        (raw(manifest(subject="x")), "", "subject"),
        (raw(manifest(manifests=[])), MediaType.OCI_MANIFEST, "must not have manifests"),
        (raw({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": [],
              "layers": []}), "", "must not have config"),
        (raw({"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX}), "", "manifests must"),
        (b"[" * 100000 + b"]" * 100000, "", "JSON"),
    ],
)
def test_invalid_manifests(payload: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ManifestInvalid, match=message) as info:
        parse_manifest(payload, content_type)
    assert info.value.code == "MANIFEST_INVALID"
