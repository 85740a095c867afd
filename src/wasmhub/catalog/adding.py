"""Add a plugin by URL: fetch it, check it, store it in our registry, index it.

Two kinds of URL:

- ``oci://host[:port]/repo[:tag|@digest]``: the manifest and every blob are pulled from
  that registry (OCI distribution API over :class:`SafeFetcher`; anonymous Bearer
  tokens are requested when the registry asks for them; http for loopback hosts, https
  otherwise) and imported unchanged into ``namespace/name`` here.
- ``http(s)://…/file.wasm``: the module is downloaded, inspected and packed as a compat
  image (``wasmhub.wasm.pack``) with a generated plugin.yaml holding the names.

Checks before anything is stored: SSRF address rules, ``fetch_max_bytes`` and
``fetch_timeout_seconds`` (see :mod:`wasmhub.catalog.fetch`), Wasm magic, a parseable
module with a proxy-wasm ABI marker, a Wasm plugin image layout, digests of every blob,
and no existing ``namespace/name:tag``. Only then are the blobs and the manifest put
through ``RegistryService`` (which emits ``ManifestPushed``) and the catalog records the
user's names. Every failure is a typed ``wasmhub.errors`` error.

The image is analysed once (``Hub.analyser``, within ``max_module_bytes``) from the
downloaded bytes; that analysis goes with the push (the validator and the catalog
indexer reuse it), so no layer is unpacked again. :class:`PluginImporter` caps how
many imports run at once (``max_concurrent_imports``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from wasmhub.catalog.fetch import ContentTooLargeError, RemoteError, SafeFetcher
from wasmhub.catalog.types import Registration
from wasmhub.errors import BusyError, ConflictError, InputError, NotFoundError, WasmhubError

if TYPE_CHECKING:
    from wasmhub.catalog.service import CatalogService
    from wasmhub.hub import Hub
    from wasmhub.oci.reference import Reference
    from wasmhub.registry.service import RegistryService

WASM_MAGIC = b"\x00asm\x01\x00\x00\x00"
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_BEARER_RE = re.compile(r'(\w+)="([^"]*)"')
_SEMVER_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
DEFAULT_TAG = "1.0.0"


class NotAPluginError(InputError):
    """The URL's content is not a proxy-wasm plugin."""


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:64].strip("-")


class _Image:
    """A manifest and its blobs, fully downloaded and verified, ready to push."""

    def __init__(self, manifest: bytes, media_type: str, blobs: dict[str, bytes]) -> None:
        self.manifest = manifest
        self.media_type = media_type
        self.blobs = blobs

    def fetch(self, digest: str) -> bytes:
        try:
            return self.blobs[digest]
        except KeyError:
            raise NotAPluginError(f"the image references blob {digest} it does not hold") from None


def _verify(digest: str, data: bytes) -> None:
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise NotAPluginError(f"unsupported digest algorithm in {digest}")
    if hashlib.new(algorithm, data).hexdigest() != expected:
        raise RemoteError(f"blob {digest} does not match its digest")


class OciPuller:
    """Just enough of the distribution API to pull one image through a SafeFetcher."""

    def __init__(
        self, fetcher: SafeFetcher, registry: str, repository: str, *, scheme: str | None = None
    ) -> None:
        """``scheme``: ``http`` or ``https``; by default http for loopback hosts only."""
        from wasmhub.oci.reference import is_loopback_host

        self.fetcher = fetcher
        self.repository = repository
        if scheme is None:
            scheme = "http" if is_loopback_host(registry) else "https"
        self.base = f"{scheme}://{registry}/v2/{repository}"
        self.token: str | None = None

    def _get(self, url: str, accept: str | None = None) -> tuple[bytes, dict[str, str]]:
        headers = {"Accept": accept} if accept else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.fetcher.get(url, headers=headers, expect_ok=False)
        if response.status == 401 and self.token is None:
            self.token = self._anonymous_token(response.headers.get("www-authenticate", ""))
            return self._get(url, accept)
        if response.status == 404:
            raise RemoteError(f"{url} does not exist on the registry (HTTP 404)")
        if response.status >= 400:
            raise RemoteError(f"{url} answered HTTP {response.status}")
        return response.body, dict(response.headers)

    def _anonymous_token(self, challenge: str) -> str:
        if not challenge.lower().startswith("bearer "):
            raise RemoteError(
                f"the registry requires credentials ({challenge or 'no challenge'}); "
                "only public images can be added by URL"
            )
        params = dict(_BEARER_RE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise RemoteError("the registry's Bearer challenge names no realm")
        query = "&".join(f"{k}={v}" for k, v in params.items())
        body = self.fetcher.get(f"{realm}?{query}" if query else realm).body
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RemoteError("the registry's token service returned no token")
        return token

    def pull(self, reference: str) -> _Image:
        manifest, headers = self._get(f"{self.base}/manifests/{reference}", MANIFEST_ACCEPT)
        if reference.startswith("sha"):
            _verify(reference, manifest)
        try:
            doc: Any = json.loads(manifest)
        except ValueError as exc:
            raise NotAPluginError("the registry's manifest is not JSON") from exc
        if not isinstance(doc, dict):
            raise NotAPluginError("the registry's manifest is not a JSON object")
        media_type = str(
            doc.get("mediaType") or headers.get("content-type", "").split(";")[0].strip()
        )
        if media_type in INDEX_TYPES or "manifests" in doc:
            raise NotAPluginError(
                "the URL names an image index (multi-platform image); give the tag or "
                "digest of a single Wasm plugin image"
            )
        descriptors = [doc.get("config"), *(doc.get("layers") or [])]
        blobs: dict[str, bytes] = {}
        for desc in descriptors:
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
                raise NotAPluginError("the manifest has a descriptor without a digest")
            digest = desc["digest"]
            if digest in blobs:
                continue
            data, _ = self._get(f"{self.base}/blobs/{digest}")
            _verify(digest, data)
            blobs[digest] = data
        return _Image(manifest, media_type, blobs)


def _plugin_yaml(name: str, version: str, registration: Registration) -> bytes:
    display: dict[str, str] = {"en": registration.display_name.en}
    if registration.display_name.zh:
        display["zh"] = registration.display_name.zh
    description: dict[str, str] = {
        "en": registration.description.en or registration.display_name.en
    }
    if registration.description.zh:
        description["zh"] = registration.description.zh
    doc = {
        "apiVersion": "wasmhub.dev/v1",
        "kind": "Plugin",
        "metadata": {
            "name": name, "version": version, "displayName": display,
            "description": description,
        },
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def _module_image(module: bytes, name: str, tag: str, registration: Registration) -> _Image:
    from wasmhub.wasm import PluginFiles, inspect_module, pack

    if not module.startswith(WASM_MAGIC):
        raise NotAPluginError(
            f"{registration.url} is not a WebAssembly module (no \\0asm version 1 header)"
        )
    report = inspect_module(module)
    if not report.is_proxy_wasm:
        raise NotAPluginError(
            f"{registration.url} is a Wasm module but not a proxy-wasm plugin: it exports "
            "no proxy_abi_version_* marker"
        )
    plugin_name = name.rsplit("/", 1)[-1]
    files = None
    if _SEMVER_RE.match(tag) and 2 <= len(plugin_name) <= 64:
        files = PluginFiles(plugin_yaml=_plugin_yaml(plugin_name, tag, registration))
    image = pack(module, metadata=files)
    blobs = {blob.digest: blob.data for blob in image.blobs()}
    return _Image(image.manifest, image.manifest_media_type, blobs)


def _target(registration: Registration, default_name: str) -> tuple[str, str]:
    name = registration.name or slug(registration.display_name.en) or slug(default_name)
    if not name:
        raise InputError("give the plugin a name (letters or digits)")
    return registration.namespace, name


def _ensure_absent(registry: RegistryService, repository: str, tag: str) -> None:
    try:
        registry.fetch_manifest(repository, tag, with_payload=False)
    except WasmhubError as exc:
        if isinstance(exc, NotFoundError) or getattr(exc, "http_status", 0) == 404:
            return
        raise
    raise ConflictError(f"{repository}:{tag} already exists in this hub")


class PluginImporter:
    """Add-by-URL for one hub process; built once (``Hub.importer``), thread-safe.

    At most ``settings.max_concurrent_imports`` imports run at once in a process: each
    holds a worker thread for up to ``fetch_timeout_seconds``, so without the cap a
    handful of slow upstreams could take every thread the API, the UI and ``/v2/``
    answer with. An import over the cap is refused at once with ``BusyError`` (503)
    instead of queueing on a thread.
    """

    def __init__(self, hub: Hub) -> None:
        from wasmhub.registry.service import RegistryService

        self.hub = hub
        self.max_concurrent = hub.settings.max_concurrent_imports
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self.registry = RegistryService(hub)

    def add(self, catalog: CatalogService, registration: Registration) -> tuple[str, str]:
        """Import the plugin at ``registration.url``; returns its (namespace, name)."""
        target = self._check_target(registration)
        if not self._slots.acquire(blocking=False):
            raise BusyError(
                f"{self.max_concurrent} plugin imports are already running on this server "
                "(max_concurrent_imports); try again in a few seconds"
            )
        try:
            return self._import(catalog, registration, target)
        finally:
            self._slots.release()

    def _check_target(self, registration: Registration) -> _Target:
        """The cheap checks, before an import slot is taken."""
        from wasmhub.oci.names import validate_name
        from wasmhub.oci.reference import Reference

        if not registration.display_name.en.strip():
            raise InputError("an English display name is required")
        url = registration.url.strip()
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        ref: Reference | None = None
        if scheme == "oci":
            ref = Reference.parse(url)
            namespace, name = _target(registration, ref.name)
            tag = registration.tag or ref.tag or (DEFAULT_TAG if ref.digest else "latest")
        elif scheme in ("http", "https"):
            file_name = parts.path.rsplit("/", 1)[-1].removesuffix(".wasm")
            namespace, name = _target(registration, file_name)
            tag = registration.tag or DEFAULT_TAG
        else:
            raise InputError("the URL must start with oci://, https:// or http://")
        repository = f"{namespace}/{name}"
        validate_name(repository)
        _ensure_absent(self.registry, repository, tag)
        return _Target(url, namespace, name, tag, ref)

    def _import(
        self, catalog: CatalogService, registration: Registration, target: _Target
    ) -> tuple[str, str]:
        from wasmhub.catalog.indexer import version_record

        settings = self.hub.settings
        analyser = self.hub.analyser
        repository, url, tag = target.repository, target.url, target.tag
        with SafeFetcher(
            allow_private=list(settings.fetch_allow_private),
            max_bytes=settings.fetch_max_bytes,
            timeout=settings.fetch_timeout_seconds,
            ca_bundle=settings.fetch_ca_bundle,
            resolver=self.hub.resolver,
        ) as fetcher:
            if target.ref is not None:
                ref = target.ref
                image = OciPuller(fetcher, ref.registry, ref.repository).pull(ref.reference)
            else:
                module = fetcher.get(url).body
                if len(module) > analyser.max_module_bytes:
                    raise ContentTooLargeError(
                        f"{url} is {len(module)} bytes; this hub accepts modules of at "
                        f"most {analyser.max_module_bytes} bytes (max_module_bytes)"
                    )
                image = _module_image(module, target.name, tag, registration)
        # The one analysis of this import: the push hook and the catalog reuse it.
        analysis = analyser.analyse(image.manifest, image.fetch)
        if analysis is None:
            raise NotAPluginError(f"{url} is not a Wasm plugin image (unknown layout)")
        if not analysis.report.is_proxy_wasm:
            raise NotAPluginError(f"{url} holds a Wasm module without a proxy-wasm ABI marker")
        # Everything is checked: now store, blobs first, then the manifest that makes them live.
        for digest, data in image.blobs.items():
            self.registry.put_blob(repository, data, digest)
        digest = self.registry.push_manifest(
            repository, tag, image.manifest, image.media_type, analysis=analysis
        ).digest
        # The indexer subscriber has recorded it already unless it failed (its errors are
        # logged, not raised); the upsert is idempotent and must hold before the
        # registration is saved, so record it here too, from the same analysis.
        catalog.record_version(version_record(
            repository, tag, digest, image.media_type, image.manifest, analysis
        ))
        catalog.set_registration(repository, registration)
        return target.namespace, target.name


@dataclass(frozen=True)
class _Target:
    url: str
    namespace: str
    name: str
    tag: str
    ref: Reference | None

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"
