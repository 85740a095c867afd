"""Signatures and attestations of plugin images, and the hub's trust in them.

Client side (any OCI registry): ``keys`` (ECDSA P-256, PEM), ``keystore`` (the local key
directory), ``formats`` (cosign simple signing, OCI referrers, DSSE/in-toto), ``verify``
(one signature against keys), ``remote`` (discover, verify, sign, attest through
``wasmhub.client.RegistryClient``), ``predicates`` (SBOM / provenance documents),
``policy`` (trust modes and ``ensure_trusted``, the check every pull/deploy path calls).

Hub side: ``models`` (keys per namespace, policies, audit, verified-signature index),
``trust`` (``TrustService``), ``index`` (the registry-event subscriber and the reports the
catalog shows). Formats and guarantees: docs/trust.md.
"""

from __future__ import annotations
