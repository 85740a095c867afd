"""Compatibility re-export: image references now live in :mod:`wasmhub.oci.reference`.

Kept so that existing ``from wasmhub.client.reference import ...`` imports (the catalog's
add-by-URL) keep working; new code should import from ``wasmhub.oci.reference``.
"""

from __future__ import annotations

from wasmhub.oci.reference import Reference, ReferenceInvalid, is_loopback_host

#: The old name of :class:`wasmhub.oci.reference.ReferenceInvalid`.
ReferenceError = ReferenceInvalid

__all__ = ["Reference", "ReferenceError", "ReferenceInvalid", "is_loopback_host"]
