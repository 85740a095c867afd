"""SSRF-safe HTTP downloads for add-by-URL: address checks, size and time limits.

:class:`SafeFetcher` resolves each URL's host itself (through an injectable
:data:`Resolver`, the system's ``getaddrinfo`` by default), refuses any address that is
not globally routable (private, loopback, link-local, multicast, reserved, CGNAT,
unspecified, IPv4-mapped forms of those) unless it lies in ``settings.fetch_allow_private``,
then connects to exactly the address it checked (the Host header and TLS SNI keep the
name), so DNS rebinding cannot swap it afterwards. Redirects are followed by hand, at
most :data:`MAX_REDIRECTS`; every hop is checked the same way, an ``https`` URL may not
redirect to ``http``, and credentials are dropped when a redirect leaves the original
host. Refusals never echo what a name resolved to or whether a port answered (the
message is "refused: private address"), so the fetcher cannot be used to map a private
network.

Limits: bodies stream into memory up to a byte budget shared by all downloads of one
import, and one wall-clock deadline covers the whole import
(``settings.fetch_timeout_seconds``). The deadline is enforced from outside the read
loop: each request (name lookup, connect, TLS, response headers, body, every redirect
hop) runs as one task in its own event loop under ``anyio.fail_after``, which cancels it
wherever it waits, so a server that trickles its headers one byte at a time cannot hold
the hub's thread past the deadline (httpx's own timeouts are per read and would not).

TLS is verified against certifi's bundle (httpx's default) and, when set,
``settings.fetch_ca_bundle`` (a PEM file of extra CAs for private PKI, added to the
system CAs and certifi's); this covers https:// downloads and oci:// registries reached
over TLS alike, since both go through this fetcher.

Errors: :class:`UnsafeURLError`, :class:`UnresolvableHostError`,
:class:`ContentTooLargeError` (InputError, 400), :class:`RemoteError` (UpstreamError,
502), :class:`FetchTimeoutError` (504).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import anyio.to_thread
import httpx

from wasmhub.errors import ConfigError, InputError, UpstreamError

MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses the host name resolves to, as strings; raises
# socket.gaierror when it cannot. Tests inject one so no made-up name reaches the DNS.
Resolver = Callable[[str, int], Sequence[str]]
PRIVATE_REFUSAL = (
    "refused: private address (the URL, or a redirect it leads to, names a private, "
    "loopback, link-local or reserved network, which the hub does not fetch from; an "
    "operator can allow a range with the fetch_allow_private setting)"
)


class UnsafeURLError(InputError):
    """The URL is malformed or points at an address the hub may not contact."""


class UnresolvableHostError(UnsafeURLError):
    """The URL's host name does not exist (the user's input, not a remote failure)."""


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


def system_resolver(host: str, port: int) -> list[str]:
    """The machine's resolver (``getaddrinfo``): every address ``host`` has."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


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


def _default_trust() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class SafeFetcher:
    """Downloads for one import: shared byte budget and deadline; reuse per import only.

    Methods are synchronous (add-by-URL runs in a worker thread); each request runs in
    a short-lived event loop of its own so that the deadline can cancel it.
    """

    def __init__(
        self, *, allow_private: list[str], max_bytes: int, timeout: float,
        ca_bundle: Path | None = None, resolver: Resolver | None = None,
    ) -> None:
        self.allowed = parse_networks(allow_private)
        self.max_bytes = max_bytes
        self.remaining_bytes = max_bytes
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.resolver: Resolver = resolver or system_resolver
        verify = tls_context(ca_bundle)
        # Built once: loading certifi's bundle costs more than a loopback request.
        self.verify = verify if isinstance(verify, ssl.SSLContext) else _default_trust()

    def close(self) -> None:
        """Nothing to release: every request's connection closes with its event loop."""

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _timed_out(self, url: str) -> FetchTimeoutError:
        return FetchTimeoutError(
            f"{url} did not finish within the {self.timeout:g} s limit "
            "(fetch_timeout_seconds); the server is too slow or holds the connection open"
        )

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, expect_ok: bool = True,
    ) -> Fetched:
        """GET ``url`` within the limits; redirects followed and checked hop by hop."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out(url)
        try:
            return anyio.run(self._get_within, url, dict(headers or {}), expect_ok, left)
        except TimeoutError:
            raise self._timed_out(url) from None

    async def _get_within(
        self, url: str, headers: dict[str, str], expect_ok: bool, left: float
    ) -> Fetched:
        with anyio.fail_after(left):
            # trust_env=False: no proxy from the environment may route around the checks.
            async with httpx.AsyncClient(
                trust_env=False, follow_redirects=False, verify=self.verify,
                timeout=httpx.Timeout(left),
            ) as client:
                return await self._follow(client, url, headers, expect_ok)

    async def _follow(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str], expect_ok: bool
    ) -> Fetched:
        # Identity encoding: the bytes counted and stored are the bytes the server holds.
        request_headers = {"Accept-Encoding": "identity", **headers}
        origin = urlsplit(url).netloc
        previous_scheme: str | None = None
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UnsafeURLError(f"{url!r} is not an http(s) URL")
            if previous_scheme == "https" and parts.scheme == "http":
                raise UnsafeURLError(
                    "refused: an https:// URL redirected to plain http:// (a downgrade "
                    "anyone on the path could tamper with); give an https:// URL that "
                    "stays on https"
                )
            if parts.username or parts.password:
                raise UnsafeURLError("URLs with embedded credentials are not accepted")
            if parts.netloc != origin:
                request_headers.pop("Authorization", None)
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError as exc:
                raise UnsafeURLError(f"{url!r} has an invalid port") from exc
            address = await self._checked_address(parts.hostname, port)
            host_literal = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit(
                (parts.scheme, f"{host_literal}:{port}", parts.path or "/", parts.query, "")
            )
            extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
            response = await self._stream(
                client, pinned, url, {**request_headers, "Host": parts.netloc}, extensions
            )
            if response.status in REDIRECT_CODES and "location" in response.headers:
                previous_scheme = parts.scheme
                url = urljoin(url, response.headers["location"])
                continue
            if expect_ok and response.status >= 400:
                raise RemoteError(f"{url} answered HTTP {response.status}")
            return response
        raise RemoteError(f"{url} redirected more than {MAX_REDIRECTS} times")

    async def _checked_address(self, host: str, port: int) -> IPAddress:
        """Resolve ``host`` and return the address to connect to, or refuse it."""
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await self._resolve(host, port)
        for address in addresses:
            if not is_public(address) and not any(address in net for net in self.allowed):
                raise UnsafeURLError(PRIVATE_REFUSAL)
        return addresses[0]

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            # A thread, abandoned if the deadline passes while the resolver still waits.
            raw = await anyio.to_thread.run_sync(
                self.resolver, host, port, abandon_on_cancel=True
            )
        except UnicodeError as exc:
            raise UnsafeURLError(f"{host!r} is not a valid host name") from exc
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:
                raise RemoteError(
                    f"the hub's DNS resolver could not look up {host!r} just now "
                    "(temporary failure); try again"
                ) from exc
            raise UnresolvableHostError(
                f"the host {host!r} in the URL cannot be resolved (no such name in DNS); "
                "check the URL for typos"
            ) from exc
        addresses: list[IPAddress] = []
        for text in raw:
            address = ipaddress.ip_address(str(text).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UnresolvableHostError(f"the host {host!r} in the URL has no address")
        return addresses

    async def _stream(
        self, client: httpx.AsyncClient, pinned: str, url: str, headers: dict[str, str],
        extensions: dict[str, str],
    ) -> Fetched:
        try:
            async with client.stream(
                "GET", pinned, headers=headers, extensions=extensions
            ) as response:
                if response.status_code in REDIRECT_CODES or response.status_code >= 400:
                    return Fetched(url, response.status_code, dict(response.headers), b"")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.remaining_bytes:
                    raise self._too_large(url)
                chunks: list[bytes] = []
                async for chunk in response.aiter_raw():
                    self.remaining_bytes -= len(chunk)
                    if self.remaining_bytes < 0:
                        raise self._too_large(url)
                    chunks.append(chunk)
                return Fetched(url, response.status_code, dict(response.headers), b"".join(chunks))
        except httpx.TimeoutException as exc:
            raise self._timed_out(url) from exc
        except httpx.HTTPError as exc:
            raise RemoteError(f"fetching {url} failed: {exc}") from exc

    def _too_large(self, url: str) -> ContentTooLargeError:
        return ContentTooLargeError(
            f"{url} is larger than the {self.max_bytes} byte limit (fetch_max_bytes)"
        )
