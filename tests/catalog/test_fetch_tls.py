"""Add-by-URL over TLS: ``fetch_ca_bundle`` adds private CAs to the default trust.

Real HTTPS servers on loopback with a certificate from a throwaway CA (``tests.catalog.tls``):
the plain ``.wasm`` server, and the CNCF registry (docker-registry) serving TLS for oci://.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from tests.catalog.distribution import push_image, running_tls_distribution, trusting
from tests.catalog.publish import packed_plugin
from tests.catalog.tls import LoopbackPKI, make_pki, pki, secure_web
from wasmhub.catalog.adding import OciPuller
from wasmhub.catalog.fetch import RemoteError, SafeFetcher, tls_context
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import Localized, Registration, SearchQuery
from wasmhub.errors import ConfigError
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings

__all__ = ["pki", "secure_web"]  # fixtures


def registration(url: str) -> Registration:
    return Registration(url=url, display_name=Localized("TLS Hello", "加密问候"),
                        description=Localized("Fetched over TLS"), namespace="acme")


@pytest.fixture
def open_hub() -> Iterator[list[Hub]]:
    """Hubs opened by the test with its own settings changes; all closed at the end."""
    hubs: list[Hub] = []
    yield hubs
    for hub in hubs:
        hub.close()


def hub_with(settings: Settings, hubs: list[Hub], **changes: object) -> Hub:
    hub = Hub.open(settings.model_copy(update=changes))
    hubs.append(hub)
    return hub


def test_https_add_trusts_the_ca_bundle(settings: Settings, open_hub: list[Hub],
                                        pki: LoopbackPKI, secure_web: str) -> None:
    hub = hub_with(settings, open_hub, fetch_ca_bundle=pki.ca)
    detail = CatalogService(hub).add_by_url(registration(f"{secure_web}/plugin.wasm"))
    assert (detail.summary.namespace, detail.summary.name) == ("acme", "tls-hello")
    assert detail.summary.abi_version == "0.2.1"
    assert detail.origin_url == f"{secure_web}/plugin.wasm"
    payload, _, _ = RegistryService(hub).get_manifest("acme/tls-hello", "1.0.0")
    assert json.loads(payload)["layers"]


def test_https_refused_without_the_right_ca(settings: Settings, open_hub: list[Hub],
                                           pki: LoopbackPKI, secure_web: str,
                                           tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other", label="some other CA")
    for bundle in (None, other.ca):
        hub = hub_with(settings, open_hub, fetch_ca_bundle=bundle)
        with pytest.raises(RemoteError) as caught:
            CatalogService(hub).add_by_url(registration(f"{secure_web}/plugin.wasm"))
        assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        assert RegistryService(hub).list_repositories() == []
        assert CatalogService(hub).search(SearchQuery()).total == 0


def test_the_bundle_adds_to_the_default_trust(pki: LoopbackPKI, tmp_path: Path) -> None:
    context = tls_context(pki.ca)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    certifi_only = ssl.create_default_context(cafile=certifi.where())
    # certifi's roots (httpx's default trust) plus ours; system CAs are loaded too.
    assert context.cert_store_stats()["x509_ca"] >= certifi_only.cert_store_stats()["x509_ca"] + 1
    subjects = [str(ca["subject"]) for ca in context.get_ca_certs()]
    assert any("'wasmhub test CA'" in subject for subject in subjects)
    assert tls_context(None) is True
    with pytest.raises(ConfigError, match="does not exist"):
        tls_context(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="PEM"):
        tls_context(garbage)


def fetcher_for(ca_bundle: Path | None) -> SafeFetcher:
    return SafeFetcher(allow_private=["127.0.0.0/8"], max_bytes=1 << 20, timeout=30.0,
                       ca_bundle=ca_bundle)


@pytest.mark.interop
def test_oci_pull_from_a_tls_registry_trusts_the_ca_bundle(
    pki: LoopbackPKI, tmp_path: Path
) -> None:
    image = packed_plugin("tls-hello", "1.0.0", en="TLS Hello")
    with running_tls_distribution(tmp_path / "registry", pki) as registry:
        digest = push_image(registry.url, "team/tls-hello", "1.0.0", image,
                            verify=trusting(pki))
        with fetcher_for(pki.ca) as fetcher:
            pulled = OciPuller(fetcher, registry.host, "team/tls-hello",
                               scheme="https").pull(digest)
        assert pulled.manifest == image.manifest
        assert set(pulled.blobs) == {blob.digest for blob in image.blobs()}
        with fetcher_for(None) as fetcher, pytest.raises(
            RemoteError, match="CERTIFICATE_VERIFY_FAILED"
        ):
            OciPuller(fetcher, registry.host, "team/tls-hello", scheme="https").pull("1.0.0")
