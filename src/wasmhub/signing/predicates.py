"""What ``wasmhub attest --type sbom|provenance FILE`` accepts, and its in-toto predicate type.

- ``sbom``: an SPDX JSON document (``spdxVersion`` ``SPDX-2.x``) -> ``https://spdx.dev/Document``,
  or a CycloneDX JSON BOM (``bomFormat: CycloneDX``) -> ``https://cyclonedx.org/bom``.
- ``provenance``: a SLSA provenance predicate, v1 (``buildDefinition`` + ``runDetails``)
  -> ``https://slsa.dev/provenance/v1``, or v0.2 (``builder`` + ``buildType``)
  -> ``https://slsa.dev/provenance/v0.2``.
Anything else is refused with the reason, before anything is signed or pushed.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from wasmhub.signing.errors import AttestationInputError

MAX_DOCUMENT = 8 << 20


class AttestationKind(StrEnum):
    SBOM = "sbom"
    PROVENANCE = "provenance"


SPDX = "https://spdx.dev/Document"
CYCLONEDX = "https://cyclonedx.org/bom"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"


def classify(kind: AttestationKind, document: bytes, name: str) -> tuple[str, Any]:
    """(predicate type, predicate JSON) for the document, or AttestationInputError."""
    if len(document) > MAX_DOCUMENT:
        raise AttestationInputError(f"{name} is larger than {MAX_DOCUMENT >> 20} MiB")
    try:
        doc = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise AttestationInputError(f"{name} is not JSON (SPDX, CycloneDX and SLSA documents "
                                    "are attached in their JSON form)") from None
    if not isinstance(doc, dict):
        raise AttestationInputError(f"{name} is not a JSON object")
    if kind is AttestationKind.SBOM:
        if str(doc.get("spdxVersion", "")).startswith("SPDX-"):
            return SPDX, doc
        if doc.get("bomFormat") == "CycloneDX":
            return CYCLONEDX, doc
        raise AttestationInputError(f"{name} is neither an SPDX (spdxVersion) nor a CycloneDX "
                                    "(bomFormat: CycloneDX) JSON SBOM")
    if doc.get("_type") and "predicate" in doc:
        raise AttestationInputError(f"{name} is a whole in-toto statement; give only its "
                                    "predicate (the statement is made and signed here)")
    if isinstance(doc.get("buildDefinition"), dict) and isinstance(doc.get("runDetails"), dict):
        return SLSA_V1, doc
    if isinstance(doc.get("builder"), dict) and doc.get("buildType"):
        return SLSA_V02, doc
    raise AttestationInputError(f"{name} is not a SLSA provenance predicate (v1 needs "
                                "buildDefinition and runDetails; v0.2 builder and buildType)")
