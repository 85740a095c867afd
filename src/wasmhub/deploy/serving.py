"""The raw module by digest, for proxies that fetch code by URL + sha256.

``GET``/``HEAD /modules/sha256:<hex>.wasm`` answers the Wasm module whose own sha256 is
``<hex>`` (the ``module_sha256`` the catalog records; not the image's manifest digest).
Envoy's ``remote`` code, Consul's ``Remote.HttpURI`` and Envoy Gateway's ``HTTP`` code
point here and verify the bytes against the same hex.

- The content never changes for a URL, so: ``Cache-Control: public, max-age=31536000,
  immutable``, ``ETag: "sha256:<hex>"`` (``If-None-Match`` → 304) and byte ranges
  (``Range`` → 206, by Starlette's ``FileResponse``).
- Only a module the catalog knows is served: the version row names the repository and
  manifest; the module is unpacked from the image once (any layout the hub stores), its
  digest checked, and kept under ``<data-dir>/modules/<hex>.wasm`` (written to a temp
  file, fsynced, renamed). Deleting the plugin makes the URL answer 404 even while a cached
  file remains (the catalog is asked first).
- Visibility: :func:`read_allowed` is the **single call site** of the read check. Every
  plugin is public today; when the hub gains principals and private plugins, this function
  calls the one permission function with the request's principal and the plugin's
  ``namespace/name`` and the route answers 404 (not 403: a private plugin's existence is
  not disclosed).
- Fetches are not counted as downloads (proxies refetch on every restart).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from wasmhub.catalog.models import CatalogPlugin, CatalogVersion
from wasmhub.errors import NotFoundError, WasmhubError
from wasmhub.hub import Hub
from wasmhub.wasm.layouts import unpack

PATH = "/modules/{name:str}"
_NAME = re.compile(r"^sha256:([a-f0-9]{64})\.wasm$")
CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class ModuleSource:
    """Where the catalog says a module comes from."""

    namespace: str
    name: str
    repository: str
    manifest_digest: str
    sha256: str


def module_url(base_url: str, sha256_hex: str) -> str:
    return f"{base_url.rstrip('/')}/modules/sha256:{sha256_hex}.wasm"


class ModuleFiles:
    """Finds a module by its sha256 and keeps an extracted copy for serving."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.cache_dir = hub.settings.data_dir / "modules"

    def find(self, sha256_hex: str) -> ModuleSource:
        with self.hub.database.session() as session:
            row = session.execute(
                select(CatalogPlugin.namespace, CatalogPlugin.name, CatalogPlugin.repository,
                       CatalogVersion.digest)
                .join(CatalogVersion, CatalogVersion.plugin_id == CatalogPlugin.id)
                .where(CatalogVersion.module_sha256 == sha256_hex)
                .order_by(CatalogVersion.created_at.desc())
                .limit(1)
            ).first()
        if row is None:
            raise NotFoundError(f"no module sha256:{sha256_hex}")
        return ModuleSource(row.namespace, row.name, row.repository, row.digest, sha256_hex)

    def path(self, source: ModuleSource) -> Path:
        """The module's file, extracted from its image on first use."""
        target = self.cache_dir / f"{source.sha256}.wasm"
        if target.exists():
            return target
        from wasmhub.registry.service import RegistryService

        registry = RegistryService(self.hub)
        record = registry.lookup_manifest(source.repository, source.manifest_digest)

        def fetch(digest: str) -> bytes:
            with registry.open_blob(source.repository, digest) as stream:
                return stream.read()

        module = unpack(record.payload or b"", fetch).module
        if hashlib.sha256(module).hexdigest() != source.sha256:
            raise NotFoundError(f"the image for sha256:{source.sha256} holds another module")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(module)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


def read_allowed(request: Request, source: ModuleSource) -> bool:
    """THE read check for served modules (see the module docstring): the hub's one
    permission check on the module's repository (a private plugin's module is "not
    found" to whoever may not read it; proxies fetch public ones without credentials)."""
    from wasmhub.authz.middleware import principal_or_anonymous
    from wasmhub.authz.permissions import Permission

    hub = request.app.state.hub
    allowed: bool = hub.identity.access.check(
        principal_or_anonymous(request), Permission.REPOSITORY_READ,
        repository=source.repository)
    return allowed


async def serve_module(request: Request) -> Response:
    match = _NAME.match(request.path_params["name"])
    if match is None:
        return PlainTextResponse("not found: expected /modules/sha256:<64 hex>.wasm", 404)
    files = ModuleFiles(request.app.state.hub)
    try:
        source = await run_in_threadpool(files.find, match.group(1))
    except NotFoundError as exc:
        return PlainTextResponse(f"not found: {exc.message}", 404)
    if not await run_in_threadpool(read_allowed, request, source):
        return PlainTextResponse(f"not found: no module sha256:{source.sha256}", 404)
    etag = f'"sha256:{source.sha256}"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    try:
        path = await run_in_threadpool(files.path, source)
    except WasmhubError as exc:  # the image is gone or unreadable: nothing to serve
        return PlainTextResponse(f"not found: {exc.message}", 404)
    return FileResponse(path, media_type="application/wasm", headers=headers)


def module_routes() -> list[Route]:
    return [Route(PATH, serve_module, methods=["GET", "HEAD"])]
