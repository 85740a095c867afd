"""REST API v1 (FastAPI, mounted at ``/api``): routes over CatalogService, problem+json.

``create_api(hub)`` builds the sub-application; ``routes`` holds the endpoints,
``schemas`` the wire shapes, ``problems`` the single exception-to-problem+json mapping.
Documented for users in docs/api.md; OpenAPI at ``/api/openapi.json``, docs at
``/api/docs``.
"""

from __future__ import annotations

from wasmhub.api.app import create_api

__all__ = ["create_api"]
