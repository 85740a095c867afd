"""``AccountClient``: the hub's identity API (``/api/v1`` tokens, orgs, teams) for the CLI.

Credentials are those ``wasmhub login`` saved for the hub's host (a password or an API
token), sent as Basic. Problem+json errors become the matching ``wasmhub.errors`` type.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from wasmhub.client.credentials import Credential, DockerConfig
from wasmhub.client.errors import unreachable
from wasmhub.client.hub import normalize_hub_url
from wasmhub.client.registry import USER_AGENT
from wasmhub.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamError,
    WasmhubError,
)

_ERRORS: dict[int, type[WasmhubError]] = {
    400: InputError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 422: InputError,
}


class AccountClient:
    def __init__(self, base_url: str, credential: Credential | None = None, *,
                 insecure: bool = False, timeout: float = 30.0,
                 anonymous_ok: bool = False) -> None:
        """``anonymous_ok``: without saved credentials, call anonymously (reads of
        public things) instead of refusing."""
        self.base_url = normalize_hub_url(base_url)
        host = urlsplit(self.base_url).netloc
        cred = credential if credential is not None else DockerConfig().get(host)
        auth: httpx.Auth | None = None
        if cred is not None and not cred.is_empty:
            auth = httpx.BasicAuth(cred.username or "token", cred.password or "")
        elif not anonymous_ok:
            raise AuthenticationError(f"not logged in to {host} (run `wasmhub login {host}`)")
        self._http = httpx.Client(
            base_url=self.base_url, verify=not insecure, timeout=timeout, auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AccountClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> Any:
        """JSON of a successful call (None for 204); typed errors otherwise."""
        try:
            response = self._http.request(method, "/api/v1" + path, json=body, params=params)
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            return data
        detail = data.get("detail") if isinstance(data, dict) else None
        message = str(detail or f"{method} {path} answered {response.status_code}")
        raise _ERRORS.get(response.status_code, UpstreamError)(message)
