"""Add-by-URL's fetcher under attack (issue 8): trickled headers, downgrades, leaks, DNS.

No made-up host name reaches the system resolver: those tests inject the hub's resolver.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.catalog.slow_upstream import slow_upstream
from tests.catalog.test_add_by_url import assert_nothing_stored, registration
from tests.catalog.tls import LoopbackPKI, pki, secure_web
from wasmhub.catalog.fetch import (
    FetchTimeoutError,
    RemoteError,
    Resolver,
    SafeFetcher,
    UnresolvableHostError,
    UnsafeURLError,
)
from wasmhub.catalog.service import CatalogService
from wasmhub.errors import InputError
from wasmhub.hub import Hub
from wasmhub.settings import Settings

__all__ = ["pki", "secure_web"]


def resolver_of(table: dict[str, Sequence[str]], *, temporary: bool = False) -> Resolver:
    """Resolves the names in ``table``; any other name does not exist (or, with
    ``temporary``, the lookup fails for now)."""

    def resolve(host: str, _port: int) -> Sequence[str]:
        if host in table:
            return table[host]
        if temporary:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


@pytest.fixture
def strict_hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    """No private range allowed, names resolved in-process."""
    hub = Hub.open(
        Settings(data_dir=tmp_path / "strict", database_url=database_url),
        resolver=resolver_of({
            "intranet.example": ["10.20.30.40"],
            # One public and one private address: any private one refuses the host.
            "mixed.example": ["93.184.215.14", "192.168.7.7"],
        }),
    )
    yield hub
    hub.close()


def test_trickled_headers_end_at_the_deadline() -> None:
    with slow_upstream() as (url, server):
        fetcher = SafeFetcher(allow_private=["127.0.0.0/8"], max_bytes=1 << 20, timeout=3.0)
        with pytest.raises(FetchTimeoutError) as caught:
            fetcher.get(f"{url}/plugin.wasm")
        assert "within the 3 s limit" in caught.value.message
        assert server.connections == 1
        # The budget is spent: the next request of the same import fails at once.
        with pytest.raises(FetchTimeoutError):
            fetcher.get(f"{url}/again.wasm")
        assert server.connections == 1


def test_an_https_add_refuses_a_redirect_to_http(
    secure_web: str, pki: LoopbackPKI, tmp_path: Path, database_url: str
) -> None:
    hub = Hub.open(Settings(data_dir=tmp_path / "tls", database_url=database_url,
                            fetch_allow_private=["127.0.0.0/8"], fetch_ca_bundle=pki.ca))
    try:
        catalog = CatalogService(hub)
        with pytest.raises(UnsafeURLError) as caught:
            catalog.add_by_url(registration(f"{secure_web}/downgrade"))
        assert "redirected to plain http://" in caught.value.message
        assert_nothing_stored(hub)
        # The same server's https redirects are followed as before.
        detail = catalog.add_by_url(registration(f"{secure_web}/to-plugin", name="kept"))
        assert detail.summary.name == "kept"
    finally:
        hub.close()


@pytest.mark.parametrize("url", [
    "http://intranet.example/x.wasm",
    "http://mixed.example:8443/x.wasm",
    "http://127.0.0.1:1/x.wasm",
    "http://[::1]:9/x.wasm",
    "oci://intranet.example/team/x:1.0.0",
])
def test_private_refusals_do_not_echo_addresses_or_port_state(strict_hub: Hub, url: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        CatalogService(strict_hub).add_by_url(registration(url))
    message = caught.value.message
    assert message.startswith("refused: private address")
    for leak in ("10.20.30.40", "192.168.7.7", "93.184", "resolves to", "refused connection",
                 "Connection refused", "8443"):
        assert leak not in message
    assert_nothing_stored(strict_hub)


def test_a_redirect_into_a_private_network_is_refused_without_naming_it(
    tmp_path: Path, database_url: str, web: str
) -> None:
    # Loopback allowed (the test server), link-local not: the redirect target leaks nothing.
    hub = Hub.open(Settings(data_dir=tmp_path / "redir", database_url=database_url,
                            fetch_allow_private=["127.0.0.0/8"]))
    try:
        with pytest.raises(UnsafeURLError) as caught:
            CatalogService(hub).add_by_url(registration(f"{web}/to-metadata"))
        assert caught.value.message.startswith("refused: private address")
        assert "169.254" not in caught.value.message
    finally:
        hub.close()


def test_an_unknown_host_is_the_users_input(strict_hub: Hub) -> None:
    with pytest.raises(UnresolvableHostError) as caught:
        CatalogService(strict_hub).add_by_url(registration("https://nosuch.example/x.wasm"))
    assert isinstance(caught.value, InputError) and caught.value.http_status == 400
    assert "'nosuch.example'" in caught.value.message
    assert "cannot be resolved" in caught.value.message
    assert_nothing_stored(strict_hub)


def test_a_temporary_dns_failure_is_the_resolvers(tmp_path: Path, database_url: str) -> None:
    hub = Hub.open(Settings(data_dir=tmp_path / "flaky", database_url=database_url),
                   resolver=resolver_of({}, temporary=True))
    try:
        with pytest.raises(RemoteError, match="temporary failure"):
            CatalogService(hub).add_by_url(registration("https://flaky.example/x.wasm"))
    finally:
        hub.close()
