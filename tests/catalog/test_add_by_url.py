"""Add-by-URL against real loopback servers: success, every refusal, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.catalog.distribution import push_image
from tests.catalog.publish import packed_plugin
from tests.catalog.wasm_server import LIMIT
from tests.support.servers import running_distribution
from wasmhub.catalog.adding import NotAPluginError
from wasmhub.catalog.fetch import (
    ContentTooLargeError,
    FetchTimeoutError,
    RemoteError,
    UnsafeURLError,
)
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import Localized, Registration, SearchQuery
from wasmhub.errors import ConflictError, InputError, WasmhubError
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings


@pytest.fixture
def limited(settings: Settings) -> Iterator[Hub]:
    hub = Hub.open(settings.model_copy(
        update={"fetch_max_bytes": LIMIT, "fetch_timeout_seconds": 1.0}
    ))
    yield hub
    hub.close()


def registration(url: str, **extra: object) -> Registration:
    return Registration(
        url=url, display_name=Localized("Hello Header", "你好请求头"),
        description=Localized("Adds hello", "添加问候"), **extra,  # type: ignore[arg-type]
    )


def assert_nothing_stored(hub: Hub) -> None:
    assert RegistryService(hub).list_repositories() == []
    assert list(hub.storage.walk()) == []
    assert CatalogService(hub).search(SearchQuery()).total == 0


def test_https_wasm_is_inspected_packed_stored_and_indexed(limited: Hub, web: str) -> None:
    catalog = CatalogService(limited)
    detail = catalog.add_by_url(registration(f"{web}/to-plugin", namespace="acme"))
    summary = detail.summary
    assert (summary.namespace, summary.name, summary.latest_version) == (
        "acme", "hello-header", "1.0.0"
    )
    assert (summary.display_name.en, summary.display_name.zh) == ("Hello Header", "你好请求头")
    assert summary.description.zh == "添加问候" and summary.abi_version == "0.2.1"
    assert detail.origin_url == f"{web}/to-plugin"
    # Stored as a real compat image in our registry, and found by search in both languages.
    payload, _, _ = RegistryService(limited).get_manifest("acme/hello-header", "1.0.0")
    assert json.loads(payload)["layers"]
    assert catalog.search(SearchQuery(q="问候")).total == 1
    assert catalog.search(SearchQuery(q="hello")).total == 1
    with pytest.raises(ConflictError):
        catalog.add_by_url(registration(f"{web}/plugin.wasm", namespace="acme"))


@pytest.mark.parametrize(("path", "error", "message"), [
    ("/missing.wasm", RemoteError, "HTTP 404"),
    ("/notes.txt", NotAPluginError, "not a WebAssembly module"),
    ("/plain.wasm", NotAPluginError, "proxy_abi_version"),
    ("/huge.wasm", ContentTooLargeError, "byte limit"),
    ("/huge-unsized.wasm", ContentTooLargeError, "byte limit"),
    ("/slow.wasm", FetchTimeoutError, "1 s"),
    ("/to-metadata", UnsafeURLError, "refused: private address"),
    ("/loop", RemoteError, "redirected more than"),
])
def test_refusals_are_typed_and_store_nothing(
    limited: Hub, web: str, path: str, error: type[WasmhubError], message: str
) -> None:
    with pytest.raises(error) as caught:
        CatalogService(limited).add_by_url(registration(web + path))
    assert message in caught.value.message
    assert_nothing_stored(limited)


def test_private_addresses_refused_without_allow_list(tmp_path: Path, web: str,
                                                      database_url: str) -> None:
    hub = Hub.open(Settings(data_dir=tmp_path / "strict", database_url=database_url))
    try:
        for url in [f"{web}/plugin.wasm", web.replace("127.0.0.1", "localhost") + "/plugin.wasm",
                    "http://[::1]:9/x.wasm", "http://10.1.2.3/x.wasm", "http://0.0.0.0/x.wasm",
                    "oci://127.0.0.1:5000/team/x:1"]:
            with pytest.raises(UnsafeURLError):
                CatalogService(hub).add_by_url(registration(url))
        assert_nothing_stored(hub)
    finally:
        hub.close()


def test_bad_input(hub: Hub) -> None:
    catalog = CatalogService(hub)
    for url in ["ftp://example.com/x.wasm", "oci://", "oci://127.0.0.1:1/UPPER:1"]:
        with pytest.raises(InputError):
            catalog.add_by_url(registration(url))
    with pytest.raises(InputError):
        catalog.add_by_url(Registration(url="http://127.0.0.1:1/x.wasm",
                                        display_name=Localized("", "")))
    with pytest.raises(RemoteError):  # nothing listens there
        catalog.add_by_url(registration("http://127.0.0.1:1/x.wasm"))
    assert_nothing_stored(hub)


@pytest.mark.interop
def test_oci_import_from_cncf_distribution(hub: Hub, tmp_path: Path) -> None:
    with running_distribution(tmp_path / "distribution") as dist:
        push_image(dist.url, "team/hello", "1.0.0", packed_plugin(
            "hello", "1.0.0", en="Hello from CNCF", zh="来自 CNCF", readme="# Hello\n\nImported."))
        catalog = CatalogService(hub)
        detail = catalog.add_by_url(registration(f"oci://{dist.host}/team/hello:1.0.0",
                                                 namespace="imported", name="hello"))
        with pytest.raises(RemoteError):
            catalog.add_by_url(registration(f"oci://{dist.host}/team/missing:1.0.0",
                                            namespace="imported", name="missing"))
    assert (detail.summary.namespace, detail.summary.name) == ("imported", "hello")
    # The user's names win; plugin.yaml and README travelled with the image.
    assert detail.summary.display_name.en == "Hello Header"
    assert "<h1>Hello</h1>" in detail.readme_html.en
    assert detail.origin_url and detail.origin_url.startswith("oci://")
    # Stays available although the source registry is gone.
    payload, _, digest = RegistryService(hub).get_manifest("imported/hello", "1.0.0")
    assert json.loads(payload)["layers"] and digest == detail.versions[0].digest
    assert RegistryService(hub).list_repositories() == ["imported/hello"]
