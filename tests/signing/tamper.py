"""An attacker's tools: rewrite what is stored in a registry with a plain client.

Built from JSON by hand (not with wasmhub.signing), so a tampered registry looks the way
an attacker would leave it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from wasmhub.client.registry import RegistryClient

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sig_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def rewrite_cosign_layer(client: RegistryClient, repository: str, digest: str,
                         change: Callable[[bytes, str], tuple[bytes, str]]) -> None:
    """Replace (payload, base64 signature) of the first layer under the cosign tag."""
    tag = sig_tag(digest)
    manifest = client.get_manifest(repository, tag).json()
    layer = manifest["layers"][0]
    payload = client.fetch_blob(repository, layer["digest"])
    new_payload, new_sig = change(payload, layer["annotations"][SIG_ANNOTATION])
    client.upload_blob(repository, new_payload)
    layer.update(digest=digest_of(new_payload), size=len(new_payload))
    layer["annotations"][SIG_ANNOTATION] = new_sig
    client.put_manifest(repository, tag, dumps(manifest), OCI_MANIFEST)


def copy_cosign_tag(client: RegistryClient, repository: str, from_digest: str,
                    to_digest: str) -> None:
    """Make the signature of one manifest appear as the signature of another."""
    source = client.get_manifest(repository, sig_tag(from_digest))
    client.put_manifest(repository, sig_tag(to_digest), source.payload, source.media_type)


def retag_with_changed_manifest(client: RegistryClient, repository: str, tag: str,
                                change: Callable[[dict[str, Any]], None]) -> str:
    """Change the manifest ``tag`` names (and whatever ``change`` uploads); push it back."""
    manifest = client.get_manifest(repository, tag).json()
    change(manifest)
    return client.put_manifest(repository, tag, dumps(manifest), OCI_MANIFEST)


def truncate_signature(payload: bytes, signature: str) -> tuple[bytes, str]:
    raw = base64.b64decode(signature)
    return payload, base64.b64encode(raw[: len(raw) // 2]).decode()


def non_base64_signature(payload: bytes, signature: str) -> tuple[bytes, str]:
    return payload, "not*base64*" + signature[:10]


def changed_payload_claims(payload: bytes, signature: str) -> tuple[bytes, str]:
    doc = json.loads(payload)
    doc["optional"] = {"injected": "yes"}
    return dumps(doc), signature
