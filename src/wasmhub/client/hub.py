"""``HubClient``: the wasmhub catalog REST API (``/api/v1``) as used by ``search``/``list``.

``search`` calls ``GET /api/v1/plugins`` and returns a ``PluginPage`` of plain dicts
(``PluginSummary`` in docs/interfaces.md section 4); ``version`` and ``module`` serve
``wasmhub deploy`` (a version's facts, the raw module by sha256, verified).
``is_catalog`` tells a wasmhub from a
plain OCI registry, so ``list`` can fall back to ``_catalog`` + tags. Problem+json errors
become the typed errors of ``wasmhub.client.errors``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from wasmhub.client.errors import (
    DigestMismatchError,
    RegistryUpstreamError,
    error_from_response,
    unreachable,
)
from wasmhub.client.registry import USER_AGENT
from wasmhub.errors import ConfigError

DEFAULT_HUB_URL = "http://127.0.0.1:5080"
HUB_URL_ENV = "WASMHUB_HUB_URL"


HUB_HINT = "start it with scripts/serve, or name the hub with --hub URL or WASMHUB_HUB_URL"


def default_hub_url() -> str:
    """The hub a command talks to when ``--hub`` is not given.

    ``WASMHUB_HUB_URL``, else the hub a local ``serve`` on the data directory
    (``WASMHUB_DATA_DIR``, default ``~/.local/share/wasmhub``) recorded, else
    ``http://127.0.0.1:5080``.
    """
    if explicit := os.environ.get(HUB_URL_ENV):
        return explicit
    from wasmhub.local_hub import serving_url
    from wasmhub.settings import default_data_dir

    data_dir = os.environ.get("WASMHUB_DATA_DIR")
    return serving_url(Path(data_dir) if data_dir else default_data_dir()) or DEFAULT_HUB_URL


def normalize_hub_url(url: str) -> str:
    """Accept ``host:port`` as well as a full URL; loopback defaults to http, else https."""
    url = url.strip().rstrip("/")
    if not url:
        raise ConfigError("empty hub URL")
    if "://" not in url:
        host = url.split("/", 1)[0]
        loopback = host.split(":")[0] in ("localhost", "127.0.0.1", "[::1]")
        url = ("http://" if loopback else "https://") + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"invalid hub URL {url!r}: expected http(s)://host[:port]")
    return url


@dataclass(frozen=True)
class PluginPage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    corrected: str | None = None  # the query the hub ran instead (no hit as typed)


class HubClient:
    def __init__(self, base_url: str, *, insecure: bool = False, timeout: float = 30.0) -> None:
        self.base_url = normalize_hub_url(base_url)
        self._http = httpx.Client(base_url=self.base_url, verify=not insecure,
                                  timeout=timeout, follow_redirects=True,
                                  headers={"User-Agent": USER_AGENT,
                                           "Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def registry_host(self) -> str:
        """``host[:port]`` of the hub, which is also its OCI registry."""
        return urlsplit(self.base_url).netloc

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except httpx.TransportError as exc:
            error = unreachable(self.base_url, exc)
            raise type(error)(f"{error.message.replace('registry', 'hub', 1)} ({HUB_HINT})"
                              ) from exc

    def is_catalog(self) -> bool:
        """True when the server answers the catalog API with JSON."""
        response = self._get("/api/v1/plugins", {"per_page": 1})
        return response.status_code == 200 and response.headers.get(
            "content-type", "").startswith("application/json")

    def search(self, query: str = "", *, page: int = 1, per_page: int = 20,
               **filters: str | None) -> PluginPage:
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if query:
            params["q"] = query
        params.update({k: v for k, v in filters.items() if v})
        response = self._get("/api/v1/plugins", params)
        if response.status_code != 200:
            raise error_from_response(response, what=f"catalog at {self.base_url}")
        body = self._json(response)
        items = body.get("items")
        if not isinstance(items, list):
            raise RegistryUpstreamError(
                f"{self.base_url} is not a wasmhub catalog (no 'items' in /api/v1/plugins)")
        corrected = body.get("corrected_q")
        return PluginPage(items, int(body.get("total", len(items))),
                          int(body.get("page", page)), int(body.get("per_page", per_page)),
                          corrected if isinstance(corrected, str) else None)

    def plugin(self, namespace: str, name: str) -> dict[str, Any]:
        response = self._get(f"/api/v1/plugins/{namespace}/{name}")
        if response.status_code != 200:
            raise error_from_response(response, what=f"plugin {namespace}/{name}")
        return self._json(response)

    def version(self, namespace: str, name: str, tag: str) -> dict[str, Any]:
        """One version's detail (digest, module sha256, config schema, facts)."""
        response = self._get(f"/api/v1/plugins/{namespace}/{name}/versions/{tag}")
        if response.status_code != 200:
            raise error_from_response(response, what=f"version {namespace}/{name}:{tag}")
        return self._json(response)

    def module(self, sha256_hex: str) -> bytes:
        """The raw module from ``/modules/``; raises DigestMismatchError on other bytes."""
        try:
            response = self._http.get(f"/modules/sha256:{sha256_hex}.wasm",
                                      headers={"Accept": "application/wasm"})
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.status_code != 200:
            raise error_from_response(response, what=f"module sha256:{sha256_hex}")
        if hashlib.sha256(response.content).hexdigest() != sha256_hex:
            raise DigestMismatchError(f"{self.base_url} served other bytes for module "
                                      f"sha256:{sha256_hex}")
        return response.content

    def trust(self, namespace: str) -> dict[str, Any] | None:
        """``GET /api/v1/namespaces/{ns}/trust``: the namespace's policy and keys, or None
        when the server is not a wasmhub with trust support (a plain registry: 404)."""
        response = self._get(f"/api/v1/namespaces/{namespace}/trust")
        problem = response.headers.get("content-type", "").startswith("application/problem")
        if response.status_code in (401, 403, 404, 405) and not problem:
            return None
        if response.status_code != 200:
            raise error_from_response(response, what=f"trust settings of {namespace}")
        return self._json(response)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryUpstreamError(
                f"{self.base_url} answered {response.url.path} with non-JSON content") from exc
        if not isinstance(body, dict):
            raise RegistryUpstreamError(f"{self.base_url} answered with unexpected JSON")
        return body
