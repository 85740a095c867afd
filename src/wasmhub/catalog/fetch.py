"""SSRF-safe HTTP downloads for add-by-URL: address checks, size and time limits.

:class:`SafeFetcher` resolves each URL's host itself, refuses any address that is not
globally routable (private, loopback, link-local, multicast, reserved, CGNAT,
unspecified, IPv4-mapped forms of those) unless it lies in ``settings.fetch_allow_private``,
then connects to exactly the address it checked (the Host header and TLS SNI keep the
name), so DNS rebinding cannot swap it afterwards. Redirects are followed by hand, at
most :data:`MAX_REDIRECTS`, and every hop is checked the same way; credentials are
dropped when a redirect leaves the original host. Bodies stream into memory up to a
byte budget shared by all downloads of one import, and one wall-clock deadline covers
the whole import (``settings.fetch_timeout_seconds``). TLS is verified against the
system CAs, certifi's bundle (httpx's default) and, when set, ``settings.fetch_ca_bundle``
(a PEM file of extra CAs for private PKI); this covers https:// downloads and oci://
registries reached over TLS alike, since both go through the same client.

Errors: :class:`UnsafeURLError` / :class:`ContentTooLargeError` (InputError, 400),
:class:`RemoteError` (UpstreamError, 502), :class:`FetchTimeoutError` (504).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from wasmhub.errors import ConfigError, InputError, UpstreamError

MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURLError(InputError):
    """The URL is malformed or points at an address the hub may not contact."""


class ContentTooLargeError(InputError):
    """The download is larger than ``fetch_max_bytes``."""


class RemoteError(UpstreamError):
    """The remote server answered with an error or broke the connection."""


class FetchTimeoutError(UpstreamError):
    http_status = 504


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def parse_networks(cidrs: list[str]) -> list[IPNetwork]:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as exc:
            raise InputError(f"fetch_allow_private entry {cidr!r} is not a CIDR") from exc
    return networks


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_public(mapped)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """The ``verify`` for httpx: the default trust, plus ``ca_bundle``'s CAs when given.

    Extra CAs add to the trust store, never replace it: the system CAs and certifi's
    bundle (what httpx trusts by default) stay trusted so public registries still work.
    """
    if ca_bundle is None:
        return True
    import certifi

    context = ssl.create_default_context()  # system CAs, hostname checks, CERT_REQUIRED
    context.load_verify_locations(cafile=certifi.where())
    try:
        context.load_verify_locations(cafile=str(ca_bundle))
    except FileNotFoundError as exc:
        raise ConfigError(f"fetch_ca_bundle {ca_bundle} does not exist") from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"fetch_ca_bundle {ca_bundle} is not a readable PEM file of CA certificates: {exc}"
        ) from exc
    return context


class SafeFetcher:
    """Downloads for one import: shared byte budget and deadline; reuse per import only."""

    def __init__(
        self, *, allow_private: list[str], max_bytes: int, timeout: float,
        ca_bundle: Path | None = None,
    ) -> None:
        self.allowed = parse_networks(allow_private)
        self.max_bytes = max_bytes
        self.remaining_bytes = max_bytes
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        # trust_env=False: no proxy from the environment may route around the checks.
        self.client = httpx.Client(
            trust_env=False, follow_redirects=False, verify=tls_context(ca_bundle)
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchTimeoutError(f"the download took longer than {self.timeout:g} s")
        return left

    def check_host(self, host: str, port: int) -> IPAddress:
        """Resolve ``host`` and return the address to connect to, or refuse it."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise RemoteError(f"cannot resolve host {host!r}: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise RemoteError(f"host {host!r} has no address")
        for address in addresses:
            if not is_public(address) and not any(address in net for net in self.allowed):
                raise UnsafeURLError(
                    f"{host} resolves to {address}, a private, loopback, link-local or "
                    "reserved address; the hub does not fetch from those (an operator "
                    "can allow a range with the fetch_allow_private setting)"
                )
        return addresses[0]

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, expect_ok: bool = True,
    ) -> Fetched:
        """GET ``url`` within the limits; redirects followed and checked hop by hop."""
        # Identity encoding: the bytes counted and stored are the bytes the server holds.
        request_headers = {"Accept-Encoding": "identity", **(headers or {})}
        origin = urlsplit(url).netloc
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UnsafeURLError(f"{url!r} is not an http(s) URL")
            if parts.username or parts.password:
                raise UnsafeURLError("URLs with embedded credentials are not accepted")
            if parts.netloc != origin:
                request_headers.pop("Authorization", None)
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError as exc:
                raise UnsafeURLError(f"{url!r} has an invalid port") from exc
            address = self.check_host(parts.hostname, port)
            host_literal = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit(
                (parts.scheme, f"{host_literal}:{port}", parts.path or "/", parts.query, "")
            )
            extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
            response = self._stream(pinned, url, {**request_headers, "Host": parts.netloc},
                                    extensions)
            if response.status in REDIRECT_CODES and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if expect_ok and response.status >= 400:
                raise RemoteError(f"{url} answered HTTP {response.status}")
            return response
        raise RemoteError(f"{url} redirected more than {MAX_REDIRECTS} times")

    def _stream(
        self, pinned: str, url: str, headers: dict[str, str], extensions: dict[str, str]
    ) -> Fetched:
        timeout = httpx.Timeout(self._left())
        try:
            with self.client.stream(
                "GET", pinned, headers=headers, timeout=timeout, extensions=extensions
            ) as response:
                if response.status_code in REDIRECT_CODES or response.status_code >= 400:
                    return Fetched(url, response.status_code, dict(response.headers), b"")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.remaining_bytes:
                    raise self._too_large(url)
                chunks: list[bytes] = []
                for chunk in response.iter_raw():
                    self.remaining_bytes -= len(chunk)
                    if self.remaining_bytes < 0:
                        raise self._too_large(url)
                    chunks.append(chunk)
                    self._left()
                return Fetched(url, response.status_code, dict(response.headers), b"".join(chunks))
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError(
                f"{url} did not answer within {self.timeout:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise RemoteError(f"fetching {url} failed: {exc}") from exc

    def _too_large(self, url: str) -> ContentTooLargeError:
        return ContentTooLargeError(
            f"{url} is larger than the {self.max_bytes} byte limit (fetch_max_bytes)"
        )
