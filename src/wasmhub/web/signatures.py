"""The plugin page's signatures section: what ``_signatures.html`` renders for one version.

Built from ``wasmhub.signing.index.SignatureIndex.report`` (every signature and
attestation stored for the digest, verified against the namespace's registered keys) and
the namespace's trust policy. A broken signature never breaks the page: it is listed as
not verified, and a registry error shows as a note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wasmhub.errors import WasmhubError
from wasmhub.signing.errors import NothingToSign
from wasmhub.signing.index import SignatureIndex, namespace_of
from wasmhub.signing.remote import Report
from wasmhub.signing.trust import TrustService

if TYPE_CHECKING:
    from wasmhub.hub import Hub


def signatures_view(hub: Hub, repository: str, digest: str) -> dict[str, Any]:
    namespace = namespace_of(repository)
    try:
        policy = TrustService(hub).policy(namespace)
        try:
            report = SignatureIndex(hub).report(repository, digest)
        except NothingToSign:  # catalogued, but the manifest is not (or no longer) stored
            report = Report(repository, digest)
    except WasmhubError as exc:
        return {"error": exc.message, "namespace": namespace}
    return {
        "error": None,
        "namespace": namespace,
        "policy": policy.mode.value,
        "signatures": [{"key": v.key.name, "label": f"{namespace}/{v.key.name}",
                        "sources": v.sources,
                        "claims": ", ".join(f"{k}={val}" for k, val in v.optional.items())}
                       for v in report.signatures],
        "attestations": [{"type": report.attestation_kinds.get(v.sources[0], ""),
                          "predicate_type": v.predicate_type,
                          "label": f"{namespace}/{v.key.name}"}
                         for v in report.attestations],
        "rejected": [r.to_json() for r in report.rejections],
        "others": [{"digest": o.get("digest"), "artifact_type": o.get("artifactType")}
                   for o in report.others],
    }
