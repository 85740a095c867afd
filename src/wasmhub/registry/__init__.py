"""The OCI distribution registry served on ``/v2/``.

``service.RegistryService`` holds all the logic (other parts call it directly); the
handler modules (``base``, ``blobs``, ``uploads``, ``manifests``, ``tags``, ``referrers``,
``catalog``) are thin over it and ``routes`` lists them. ``maintenance`` has fsck and gc.
"""

from __future__ import annotations
