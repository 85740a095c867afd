"""``/api/docs`` and the UI in Chromium under the hub's CSP: the docs render from the hub's
own assets (no request leaves the hub) and no page reports a CSP violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, expect

from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, page, shots
from tests.web.seed import seed_catalog
from wasmhub.catalog.service import CatalogService
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "page", "shots"]  # fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("docs-hub")
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        seed_catalog(CatalogService(hub))
    finally:
        hub.close()
    with running_wasmhub(data_dir) as running:
        yield running


class Watch:
    """Every request the page makes, and console errors (CSP violations land there)."""

    def __init__(self, page: Page) -> None:
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https"):
            self.hosts.add(parts.netloc)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def test_api_docs_render_offline_from_the_hub(
    page: Page, server: RunningServer, shots: Path
) -> None:
    watch = Watch(page)
    page.goto(server.url + "/api/docs")
    expect(page.get_by_role("heading", name="wasmhub API")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("/v1/plugins", exact=True).first).to_be_visible()
    page.screenshot(path=str(shots / "api-docs.png"), full_page=False)
    assert watch.hosts == {server.host}, watch.hosts
    assert watch.errors == []


@pytest.mark.parametrize("path", ["/", "/search?q=header", "/plugins/acme/add-header",
                                  "/add", "/nope"])
def test_ui_pages_raise_no_csp_violation(page: Page, server: RunningServer, path: str) -> None:
    watch = Watch(page)
    page.goto(server.url + path)
    page.wait_for_load_state("networkidle")
    csp = [e for e in watch.errors if "Content Security Policy" in e or "Refused" in e]
    assert csp == []
    assert watch.hosts == {server.host}, watch.hosts
