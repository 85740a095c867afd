"""Adding plugins by URL in Chromium against a real ``wasmhub serve``.

The hub runs with ``WASMHUB_FETCH_ALLOW_PRIVATE='["127.0.0.0/8"]'`` (loopback sources)
and ``WASMHUB_FETCH_CA_BUNDLE`` naming a throwaway CA. Sources: the CNCF registry
(``docker-registry``) holding a real plugin image, and an HTTPS server (certificate for
127.0.0.1 from that CA) serving a real proxy-wasm module and some non-plugins.
Screenshots: ``add-oci.png``, ``add-https.png``, ``add-error.png`` (not Wasm),
``add-error-404.png``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.catalog.distribution import push_image
from tests.catalog.modules import proxy_module
from tests.catalog.publish import packed_plugin
from tests.catalog.tls import LoopbackPKI, https_wasm_server, make_pki
from tests.support.servers import RunningServer, running_distribution, running_wasmhub
from tests.web.browser import browser, page, shots
from wasmhub.wasm import unpack

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]
__all__ = ["browser", "page", "shots"]  # fixtures

MANIFEST_ACCEPT = ("application/vnd.oci.image.manifest.v1+json, "
                   "application/vnd.docker.distribution.manifest.v2+json")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def source_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_distribution(tmp_path_factory.mktemp("distribution")) as registry:
        yield registry


@pytest.fixture(scope="module")
def files(pki: LoopbackPKI) -> Iterator[str]:
    with https_wasm_server(pki) as url:
        yield url


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: LoopbackPKI) -> Iterator[RunningServer]:
    env = {"WASMHUB_FETCH_ALLOW_PRIVATE": json.dumps(["127.0.0.0/8"]),
           "WASMHUB_FETCH_CA_BUNDLE": str(pki.ca)}
    with running_wasmhub(tmp_path_factory.mktemp("add-hub"), extra_env=env) as running:
        yield running


def fill_add_form(page: Page, hub: RunningServer, url: str, en: str, zh: str,
                  description: str) -> None:
    page.goto(hub.url + "/add")
    expect(page.get_by_role("heading", name="Add a plugin")).to_be_visible()
    page.get_by_label("URL").fill(url)
    page.get_by_label("English name").fill(en)
    page.get_by_label("Chinese name").fill(zh)
    page.get_by_label("Description (English)").fill(description)
    page.get_by_role("button", name="Add plugin").click()


def pull_module(hub: RunningServer, repository: str, tag: str) -> tuple[str, bytes]:
    """Pull the image from the hub's own /v2/: (manifest digest, the unpacked module)."""
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        response = http.get(f"/v2/{repository}/manifests/{tag}",
                            headers={"Accept": MANIFEST_ACCEPT})
        assert response.status_code == 200, response.text
        digest = response.headers["docker-content-digest"]
        assert digest == "sha256:" + hashlib.sha256(response.content).hexdigest()

        def blob(blob_digest: str) -> bytes:
            data = http.get(f"/v2/{repository}/blobs/{blob_digest}").raise_for_status().content
            assert blob_digest == "sha256:" + hashlib.sha256(data).hexdigest()
            return data

        return digest, unpack(response.content, blob).module


def test_add_by_oci_url_from_the_cncf_registry(
    page: Page, hub: RunningServer, source_registry: RunningServer, shots: Path
) -> None:
    image = packed_plugin("hello", "1.0.0", en="Hello from CNCF", readme="# Hello\n\nImported.")
    source_digest = push_image(source_registry.url, "team/hello", "1.0.0", image)

    fill_add_form(page, hub, f"oci://{source_registry.host}/team/hello:1.0.0",
                  "Imported Hello", "导入的问候", "Imported from a CNCF registry")
    page.wait_for_url(hub.url + "/plugins/library/imported-hello")
    expect(page.locator(".plugin-title h1")).to_have_text("Imported Hello")
    expect(page.get_by_text("ABI 0.2.1", exact=True)).to_be_visible()
    expect(page.get_by_text("Imported from a CNCF registry").first).to_be_visible()
    page.screenshot(path=shots / "add-oci.png", full_page=True)
    page.goto(hub.url + "/plugins/library/imported-hello?lang=zh")
    expect(page.locator(".plugin-title h1")).to_have_text("导入的问候")

    # Imported unchanged, and pullable from the hub's own registry.
    digest, module = pull_module(hub, "library/imported-hello", "1.0.0")
    assert digest == source_digest
    assert module == proxy_module()


def test_add_by_https_url_with_a_private_ca(
    page: Page, hub: RunningServer, files: str, shots: Path
) -> None:
    fill_add_form(page, hub, f"{files}/plugin.wasm", "TLS Header Filter", "加密头过滤器",
                  "Fetched over HTTPS from a private CA")
    page.wait_for_url(hub.url + "/plugins/library/tls-header-filter")
    expect(page.locator(".plugin-title h1")).to_have_text("TLS Header Filter")
    expect(page.get_by_text("ABI 0.2.1", exact=True)).to_be_visible()
    page.screenshot(path=shots / "add-https.png", full_page=True)
    page.goto(hub.url + "/plugins/library/tls-header-filter?lang=zh")
    expect(page.locator(".plugin-title h1")).to_have_text("加密头过滤器")

    _digest, module = pull_module(hub, "library/tls-header-filter", "1.0.0")
    assert module == proxy_module()
    api = httpx.get(hub.url + "/api/v1/plugins/library/tls-header-filter").json()
    assert api["origin_url"] == f"{files}/plugin.wasm"


@pytest.mark.parametrize(("path", "message", "name", "shot"), [
    ("/missing.wasm", "answered HTTP 404", "Missing Filter", "add-error-404.png"),
    ("/notes.txt", "is not a WebAssembly module", "Text File", "add-error.png"),
])
def test_failed_add_explains_and_stores_nothing(
    page: Page, hub: RunningServer, files: str, shots: Path, path: str, message: str,
    name: str, shot: str,
) -> None:
    fill_add_form(page, hub, files + path, name, "失败", "Should not be stored")
    alert = page.locator("#add-error")
    expect(alert).to_contain_text("The plugin was not added.")
    expect(alert).to_contain_text(message)
    assert page.url == hub.url + "/add"
    # What the user typed is kept, and the URL field is marked.
    expect(page.get_by_label("URL")).to_have_value(files + path)
    expect(page.get_by_label("Chinese name")).to_have_value("失败")
    expect(page.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=shots / shot, full_page=True)

    slug = name.lower().replace(" ", "-")
    assert httpx.get(f"{hub.url}/api/v1/plugins/library/{slug}").status_code == 404
    assert httpx.get(f"{hub.url}/api/v1/plugins", params={"q": name}).json()["total"] == 0
    assert httpx.get(f"{hub.url}/v2/library/{slug}/tags/list").status_code == 404
