"""``RegistryClient``: a synchronous, streaming httpx client for any OCI Distribution registry.

One client talks to one registry host. Plain HTTP is used for loopback hosts, TLS for
everything else; ``insecure=True`` skips certificate checks and falls back to plain HTTP
when the host does not speak TLS. Credentials come from the caller or Docker's
``config.json`` (``wasmhub.client.credentials``); challenges are answered by
``wasmhub.client.auth``. Errors are typed (``wasmhub.client.errors``).

Operations: ``ping``, blob ``blob_exists``/``upload_blob`` (monolithic or chunked with
progress)/``mount_blob``/``download_blob``/``fetch_blob``/``delete_blob``, manifest
``get_manifest``/``head_manifest``/``put_manifest``/``delete_manifest``, ``list_tags`` and
``catalog`` (with ``Link`` pagination) and ``referrers``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from wasmhub.client.auth import Authenticator
from wasmhub.client.credentials import Credential, load_credential
from wasmhub.client.errors import (
    DigestMismatchError,
    RegistryError,
    RegistryUpstreamError,
    error_from_response,
    unreachable,
)
from wasmhub.oci.digest import (
    DigestAlgorithm,
    Hasher,
    is_valid_digest,
    new_hasher,
    sha256_digest,
)
from wasmhub.oci.media_types import INDEX_MEDIA_TYPES, MANIFEST_ACCEPT, MediaType
from wasmhub.oci.reference import is_loopback_host

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
USER_AGENT = "wasmhub/0.1"
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(bytes_done, bytes_total_or_None)`` during transfers."""


def _hasher(digest: str) -> Hasher:
    try:
        algorithm = DigestAlgorithm(digest.split(":", 1)[0])
    except ValueError:
        raise RegistryUpstreamError(f"unsupported digest algorithm in {digest!r}") from None
    return new_hasher(algorithm)


def file_digest(path: Path) -> tuple[str, int]:
    """(``sha256:...``, size) of a file, read in 1 MiB chunks."""
    h = new_hasher()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """A fetched manifest: the exact bytes, their media type and digest."""

    payload: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        data = json.loads(self.payload)
        if not isinstance(data, dict):
            raise RegistryUpstreamError(f"manifest {self.digest} is not a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


def _repo_scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


def _add_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class RegistryClient:
    """Talks the OCI distribution protocol to ``registry`` (``host[:port]``)."""

    def __init__(
        self,
        registry: str,
        *,
        credential: Credential | None = None,
        use_docker_config: bool = True,
        insecure: bool = False,
        timeout: float = 60.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        monolithic_limit: int | None = None,
    ) -> None:
        self.registry = registry
        self.insecure = insecure
        self.chunk_size = chunk_size
        self.monolithic_limit = chunk_size if monolithic_limit is None else monolithic_limit
        if credential is None and use_docker_config:
            credential = load_credential(registry)
        self.credential = credential
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            verify=not insecure,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        self._auth = Authenticator(registry, credential, self._http)
        self._base: str | None = None
        self._post_with_body = True  # becomes False once the registry ignores POST bodies

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._base is None:
            if is_loopback_host(self.registry):
                self._base = f"http://{self.registry}"
            elif not self.insecure:
                self._base = f"https://{self.registry}"
            else:
                try:
                    self._http.get(f"https://{self.registry}/v2/", timeout=10.0)
                    self._base = f"https://{self.registry}"
                except httpx.TransportError:
                    self._base = f"http://{self.registry}"
        return self._base

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def _request(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str],
        what: str,
        expected: Sequence[int] = (200,),
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with auth; on 401 answer the challenge once and resend. Raises typed errors."""
        url = self._url(path)
        if params:
            url = _add_query(url, params)
        auth_header = self._auth.header_for(scopes)
        for attempt in range(2):
            send_headers = dict(headers or {})
            if auth_header:
                send_headers["Authorization"] = auth_header
            request = self._http.build_request(method, url, headers=send_headers,
                                               content=content)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                raise unreachable(self.registry, exc) from exc
            if response.status_code == 401 and attempt == 0:
                response.read()
                response.close()
                auth_header = self._auth.answer(response, scopes)
                if auth_header is not None:
                    continue
            if response.status_code not in expected:
                try:
                    response.read()
                finally:
                    response.close()
                raise error_from_response(response, what=what)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    # -- registry ---------------------------------------------------------------------------

    def ping(self) -> dict[str, str]:
        """GET ``/v2/``; verifies the host is a registry and the credentials are accepted."""
        response = self._request("GET", "/v2/", scopes=[], what=self.registry)
        version = response.headers.get("docker-distribution-api-version", "")
        return {"registry": self.registry, "url": self.base_url, "api_version": version}

    def _paginate(self, path: str, key: str, scopes: Sequence[str], what: str,
                  page_size: int | None) -> Iterator[str]:
        params = {"n": str(page_size)} if page_size else None
        url: str | None = path
        while url is not None:
            response = self._request("GET", url, scopes=scopes, what=what, params=params)
            params = None  # the Link URL carries them
            body = response.json()
            for item in (body.get(key) or []) if isinstance(body, dict) else []:
                yield str(item)
            match = _LINK_NEXT_RE.search(response.headers.get("link", ""))
            url = urljoin(str(response.url), match.group(1)) if match else None

    def catalog(self, page_size: int | None = None) -> list[str]:
        return list(self._paginate("/v2/_catalog", "repositories", ["registry:catalog:*"],
                                   f"{self.registry} catalog", page_size))

    def list_tags(self, repository: str, page_size: int | None = None) -> list[str]:
        return list(self._paginate(f"/v2/{repository}/tags/list", "tags",
                                   [_repo_scope(repository, "pull")],
                                   f"{self.registry}/{repository}", page_size))

    # -- blobs ----------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        try:
            self._request("HEAD", f"/v2/{repository}/blobs/{digest}",
                          scopes=[_repo_scope(repository, "pull")],
                          what=f"{self.registry}/{repository}@{digest}")
        except RegistryError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def upload_blob(self, repository: str, source: bytes | Path, digest: str | None = None,
                    *, progress: ProgressCallback | None = None) -> str:
        """Upload bytes or a file; monolithic when small, chunked PATCHes when large."""
        if isinstance(source, Path):
            if digest is None:
                digest, size = file_digest(source)
            else:
                size = source.stat().st_size
        else:
            size = len(source)
            digest = digest or sha256_digest(source)
        if size <= self.monolithic_limit:
            data = source.read_bytes() if isinstance(source, Path) else source
            self._upload_monolithic(repository, data, digest)
            if progress is not None:
                progress(size, size)
        else:
            self._upload_chunked(repository, source, size, digest, progress)
        return digest

    def _uploads_path(self, repository: str) -> str:
        return f"/v2/{repository}/blobs/uploads/"

    def _upload_monolithic(self, repository: str, data: bytes, digest: str) -> None:
        scopes = [_repo_scope(repository, "pull,push")]
        what = f"upload to {self.registry}/{repository}"
        octet = {"Content-Type": "application/octet-stream"}
        if self._post_with_body:
            response = self._request(
                "POST", self._uploads_path(repository), scopes=scopes, what=what,
                expected=(201, 202), params={"digest": digest}, content=data, headers=octet,
            )
            if response.status_code == 201:
                return
            self._post_with_body = False  # the registry opened a session and dropped the body
        else:
            response = self._request("POST", self._uploads_path(repository), scopes=scopes,
                                     what=what, expected=(202,), content=b"")
        location = self._location(response, what)
        self._request("PUT", _add_query(location, {"digest": digest}), scopes=scopes,
                      what=what, expected=(201, 204), content=data, headers=octet)

    def _location(self, response: httpx.Response, what: str) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryUpstreamError(f"{what}: the registry sent no upload Location")
        return urljoin(str(response.url), str(location))

    def _upload_chunked(self, repository: str, source: bytes | Path, size: int, digest: str,
                        progress: ProgressCallback | None) -> None:
        scopes = [_repo_scope(repository, "pull,push")]
        what = f"upload to {self.registry}/{repository}"
        response = self._request("POST", self._uploads_path(repository), scopes=scopes,
                                 what=what, expected=(202,), content=b"")
        location = self._location(response, what)
        chunk_size = max(self.chunk_size,
                         int(response.headers.get("oci-chunk-min-length", "0") or 0))
        offset = 0
        for chunk in _chunks(source, chunk_size):
            end = offset + len(chunk) - 1
            response = self._request(
                "PATCH", location, scopes=scopes, what=what, expected=(202, 204),
                content=chunk,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Range": f"{offset}-{end}"},
            )
            location = self._location(response, what)
            offset = end + 1
            if progress is not None:
                progress(offset, size)
        self._request("PUT", _add_query(location, {"digest": digest}), scopes=scopes,
                      what=what, expected=(201, 204), content=b"")

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; False when the registry opened an upload instead."""
        scopes = [_repo_scope(repository, "pull,push"), _repo_scope(from_repository, "pull")]
        response = self._request(
            "POST", self._uploads_path(repository), scopes=scopes,
            what=f"mount {digest} into {self.registry}/{repository}", expected=(201, 202),
            params={"mount": digest, "from": from_repository}, content=b"",
        )
        if response.status_code == 201:
            return True
        location = response.headers.get("location")
        if location:  # cancel the upload session that was opened instead
            with contextlib.suppress(RegistryError):
                self._request("DELETE", urljoin(str(response.url), location), scopes=scopes,
                              what="cancel upload", expected=(204, 200, 202, 404))
        return False

    def _read_blob(self, repository: str, digest: str, sink: Callable[[bytes], object],
                   progress: ProgressCallback | None) -> int:
        """Stream a blob into ``sink`` chunk by chunk, then verify it against ``digest``.

        ``sink`` may raise to stop the download; returns the number of bytes read.
        """
        hasher = _hasher(digest)
        done = 0
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}",
                                 scopes=[_repo_scope(repository, "pull")],
                                 what=f"{self.registry}/{repository}@{digest}", stream=True)
        total = int(response.headers["content-length"]) if (
            response.headers.get("content-length", "").isdigit()) else None
        try:
            for chunk in response.iter_bytes(1024 * 1024):
                sink(chunk)
                hasher.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        except httpx.TransportError as exc:
            raise unreachable(self.registry, exc) from exc
        finally:
            response.close()
        _verify(hasher, digest, f"{self.registry}/{repository}")
        return done

    def fetch_blob(self, repository: str, digest: str, *, max_bytes: int = 256 << 20,
                   progress: ProgressCallback | None = None) -> bytes:
        """The blob's bytes in memory, verified against ``digest``."""
        parts: list[bytes] = []
        size = 0

        def keep(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            if size > max_bytes:
                raise RegistryUpstreamError(
                    f"blob {digest} is larger than {max_bytes} bytes; refusing to buffer it"
                )
            parts.append(chunk)

        self._read_blob(repository, digest, keep, progress)
        return b"".join(parts)

    def download_blob(self, repository: str, digest: str, dest: Path,
                      *, progress: ProgressCallback | None = None) -> int:
        """Stream a blob to ``dest`` (via a temporary file), verifying its digest."""
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            with tmp.open("wb") as handle:
                done = self._read_blob(repository, digest, handle.write, progress)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return done

    def delete_blob(self, repository: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{repository}/blobs/{digest}",
                      scopes=[_repo_scope(repository, "delete")],
                      what=f"{self.registry}/{repository}@{digest}", expected=(202, 200, 204))

    # -- manifests ------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str,
                     accept: Sequence[str] = MANIFEST_ACCEPT) -> Manifest:
        what = f"{self.registry}/{repository}{'@' if ':' in reference else ':'}{reference}"
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}",
                                 scopes=[_repo_scope(repository, "pull")], what=what,
                                 headers={"Accept": ", ".join(accept)})
        payload = response.content
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not media_type or media_type == "application/json":
            with contextlib.suppress(ValueError, AttributeError):
                media_type = str(json.loads(payload).get("mediaType") or media_type)
        expected = reference if is_valid_digest(reference) else (
            response.headers.get("docker-content-digest") or sha256_digest(payload))
        hasher = _hasher(expected)
        hasher.update(payload)
        _verify(hasher, expected, what)
        return Manifest(payload, media_type, expected)

    def head_manifest(self, repository: str, reference: str,
                      accept: Sequence[str] = MANIFEST_ACCEPT) -> Descriptor | None:
        """The descriptor of a manifest, or None when it does not exist."""
        try:
            response = self._request(
                "HEAD", f"/v2/{repository}/manifests/{reference}",
                scopes=[_repo_scope(repository, "pull")],
                what=f"{self.registry}/{repository}:{reference}",
                headers={"Accept": ", ".join(accept)},
            )
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        digest = response.headers.get("docker-content-digest")
        if not digest:  # some registries omit it on HEAD; fetch to know
            manifest = self.get_manifest(repository, reference, accept)
            return Descriptor(manifest.media_type, manifest.digest, len(manifest.payload))
        return Descriptor(
            response.headers.get("content-type", "").split(";")[0].strip(), digest,
            int(response.headers.get("content-length", "0") or 0),
        )

    def put_manifest(self, repository: str, reference: str, payload: bytes,
                     media_type: str) -> str:
        digest = sha256_digest(payload)
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{reference}",
            scopes=[_repo_scope(repository, "pull,push")],
            what=f"push manifest to {self.registry}/{repository}:{reference}",
            expected=(201, 200, 204), content=payload, headers={"Content-Type": media_type},
        )
        returned = response.headers.get("docker-content-digest")
        if returned and returned != digest and returned.startswith("sha256:"):
            raise DigestMismatchError(
                f"{self.registry} stored the manifest as {returned}, expected {digest}"
            )
        return digest

    def put_referrer(self, repository: str, payload: bytes, media_type: str,
                     subject_digest: str, artifact_type: str) -> str:
        """PUT an OCI 1.1 referrer by digest. A registry without the referrers API (no
        ``OCI-Subject`` in its answer) gets the referrers tag schema: the index under tag
        ``sha256-<hex>`` is updated to list the new manifest, as the spec asks clients."""
        digest = sha256_digest(payload)
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{digest}",
            scopes=[_repo_scope(repository, "pull,push")],
            what=f"push referrer to {self.registry}/{repository}",
            expected=(201, 200, 204), content=payload, headers={"Content-Type": media_type},
        )
        if response.headers.get("oci-subject"):
            return digest
        tag = subject_digest.replace(":", "-", 1)
        try:
            index = self.get_manifest(repository, tag, (MediaType.OCI_INDEX,)).json()
        except RegistryError as exc:
            if exc.status != 404:
                raise
            index = {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX.value,
                     "manifests": []}
        entries = [m for m in index.get("manifests") or [] if m.get("digest") != digest]
        entries.append({"mediaType": media_type, "digest": digest, "size": len(payload),
                        "artifactType": artifact_type})
        index["manifests"] = entries
        body = json.dumps(index, separators=(",", ":")).encode()
        self.put_manifest(repository, tag, body, MediaType.OCI_INDEX.value)
        return digest

    def delete_manifest(self, repository: str, reference: str) -> None:
        self._request("DELETE", f"/v2/{repository}/manifests/{reference}",
                      scopes=[_repo_scope(repository, "delete")],
                      what=f"{self.registry}/{repository}:{reference}",
                      expected=(202, 200, 204))

    def referrers(self, repository: str, digest: str,
                  artifact_type: str | None = None) -> dict[str, Any]:
        """The referrers index for ``digest``; falls back to the ``sha256-<hex>`` tag schema."""
        params = {"artifactType": artifact_type} if artifact_type else None
        try:
            response = self._request(
                "GET", f"/v2/{repository}/referrers/{digest}",
                scopes=[_repo_scope(repository, "pull")],
                what=f"referrers of {self.registry}/{repository}@{digest}", params=params,
            )
            body = response.json()
            if isinstance(body, dict):
                return body
        except RegistryError as exc:
            if exc.status not in (404, 405):
                raise
        empty: dict[str, Any] = {
            "schemaVersion": 2, "mediaType": MediaType.OCI_INDEX.value, "manifests": [],
        }
        try:
            index = self.get_manifest(
                repository, digest.replace(":", "-"), (MediaType.OCI_INDEX,)
            ).json()
        except RegistryError as exc:
            if exc.status == 404:
                return empty
            raise
        if artifact_type:
            index["manifests"] = [m for m in index.get("manifests", [])
                                  if m.get("artifactType") == artifact_type]
        return index


def _verify(hasher: Hasher, digest: str, where: str) -> None:
    actual = f"{digest.split(':', 1)[0]}:{hasher.hexdigest()}"
    if actual != digest:
        raise DigestMismatchError(f"{where}: content is {actual}, expected {digest}")


def _chunks(source: bytes | Path, size: int) -> Iterator[bytes]:
    if isinstance(source, bytes):
        for start in range(0, len(source), size):
            yield source[start : start + size]
        return
    with source.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk
