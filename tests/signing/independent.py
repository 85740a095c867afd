"""An independent cosign key-pair verifier and signer, written from the format description
of issue 14 alone, with ``cryptography`` and ``httpx`` (no wasmhub code at all).

Format: in the same repository, tag ``sha256-<hex>.sig`` names an OCI image manifest whose
layers have media type ``application/vnd.dev.cosign.simplesigning.v1+json``; each blob is
the simple-signing JSON payload and the layer annotation
``dev.cosignproject.cosign/signature`` is the base64 ASN.1 DER ECDSA P-256 / SHA-256
signature over exactly the payload bytes. Public keys are PEM ``PUBLIC KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

LAYER_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class IndependentCosign:
    def __init__(self, registry_url: str) -> None:
        self.base = registry_url.rstrip("/")
        self.host = self.base.split("://", 1)[1]

    def _tag(self, digest: str) -> str:
        algorithm, hex_value = digest.split(":")
        return f"{algorithm}-{hex_value}.sig"

    def manifest_digest(self, repository: str, tag: str) -> str:
        response = httpx.get(f"{self.base}/v2/{repository}/manifests/{tag}",
                             headers={"Accept": MANIFEST_TYPE})
        response.raise_for_status()
        return _sha(response.content)

    def verify(self, repository: str, digest: str, public_pem: bytes) -> list[dict[str, Any]]:
        """The payloads of the signatures that verify (an empty list if none)."""
        key = serialization.load_pem_public_key(public_pem)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        response = httpx.get(f"{self.base}/v2/{repository}/manifests/{self._tag(digest)}",
                             headers={"Accept": MANIFEST_TYPE})
        if response.status_code == 404:
            return []
        response.raise_for_status()
        good = []
        for layer in response.json()["layers"]:
            if layer["mediaType"] != LAYER_TYPE:
                continue
            blob = httpx.get(f"{self.base}/v2/{repository}/blobs/{layer['digest']}",
                             follow_redirects=True)
            blob.raise_for_status()
            payload = blob.content
            if _sha(payload) != layer["digest"]:
                continue
            try:
                signature = base64.b64decode(layer["annotations"][ANNOTATION], validate=True)
                key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError, KeyError):
                continue
            claims = json.loads(payload)
            critical = claims["critical"]
            if critical["type"] != "cosign container image signature":
                continue
            if critical["image"]["docker-manifest-digest"] != digest:
                continue
            if critical["identity"]["docker-reference"] != f"{self.host}/{repository}":
                continue
            good.append(claims)
        return good

    def _upload(self, repository: str, data: bytes) -> str:
        digest = _sha(data)
        start = httpx.post(f"{self.base}/v2/{repository}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = httpx.URL(self.base).join(start.headers["location"])
        done = httpx.put(location, params={"digest": digest}, content=data,
                         headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest

    def sign(self, repository: str, digest: str,
             private_key: ec.EllipticCurvePrivateKey) -> None:
        """Write a signature under the cosign tag (one layer; replaces the tag)."""
        payload = json.dumps({
            "critical": {"identity": {"docker-reference": f"{self.host}/{repository}"},
                         "image": {"docker-manifest-digest": digest},
                         "type": "cosign container image signature"},
            "optional": {"signed-by": "independent verifier"},
        }).encode()
        signature = private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
        layer_digest = self._upload(repository, payload)
        config = json.dumps({"architecture": "", "os": "", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
        config_digest = self._upload(repository, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": len(payload),
                        "annotations": {ANNOTATION: base64.b64encode(signature).decode()}}],
        }).encode()
        put = httpx.put(f"{self.base}/v2/{repository}/manifests/{self._tag(digest)}",
                        content=manifest, headers={"Content-Type": MANIFEST_TYPE})
        assert put.status_code == 201, put.text
