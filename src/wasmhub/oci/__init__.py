"""Pure OCI distribution protocol: digests, names, media types, manifests, wire errors.

Nothing here does I/O; the registry server, the client and the wasm packer share it.
"""

from __future__ import annotations
