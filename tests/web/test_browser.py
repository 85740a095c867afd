"""The UI in Debian's Chromium (Playwright) against a real ``wasmhub serve``.

The server's catalog is seeded through CatalogService on its own SQLite database before
it starts. Screenshots of the main pages land in ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import PASSWORD
from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, page, shots
from tests.web.seed import CONFIG_SCHEMA, seed_catalog
from wasmhub.catalog.service import CatalogService
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "page", "shots"]  # fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("browser-hub")
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        seed_catalog(CatalogService(hub))
        hub.identity.accounts.create_user("stella", "stella@example.com", PASSWORD)
    finally:
        hub.close()
    with running_wasmhub(data_dir) as running:
        yield running


def test_home_search_and_filters(page: Page, server: RunningServer, shots: Path) -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Popular")).to_be_visible()
    page.screenshot(path=shots / "home.png", full_page=True)
    page.get_by_label("Search plugins").first.fill("rate")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=rate"))
    results = page.locator("#results article h3")
    expect(results).to_have_text(["Rate Limit"])

    # Search as you type (htmx swaps the results and pushes the URL).
    page.locator("#search-q").fill("jwt")
    expect(results).to_have_text(["JWT Auth"])
    page.wait_for_url(re.compile(r"q=jwt"))

    page.locator("#search-q").fill("")
    expect(results).to_have_count(5)
    page.get_by_label("Network filter").check()
    expect(results).to_have_text(["TCP Metrics"])
    page.wait_for_url(re.compile(r"filter_type=network"))
    page.get_by_label("Any").nth(2).check()
    page.get_by_label("Sort by").select_option("stars")
    expect(results.first).to_have_text("Rate Limit")
    page.screenshot(path=shots / "search.png", full_page=True)


def submit_config(page: Page) -> None:
    """Submit the config form through htmx and wait until the answer is swapped in.

    The client-side status already reads like the server's, so waiting on its text
    proves nothing; and htmx wires up swapped-in content only after its settle delay,
    so typing before then goes to a form without listeners.
    """
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.get_by_role("button", name="Validate and generate JSON").click()
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
        " && document.querySelector('form[data-config-form]').dataset.ready === '1'"
    )


def test_config_form_produces_valid_json(page: Page, server: RunningServer, shots: Path) -> None:
    page.goto(server.url + "/plugins/acme/add-header")
    expect(page.get_by_role("heading", name="Add Header", exact=True).first).to_be_visible()
    page.screenshot(path=shots / "plugin.png", full_page=True)
    output = page.locator("#config-json")
    status = page.locator("#config-status")

    page.get_by_label("Header name").fill("x-tenant")
    page.get_by_label("Limit").fill("0")
    expect(status).to_have_text("Fix the highlighted fields.")  # client-side check
    expect(page.get_by_label("Limit")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Limit").fill("3")
    page.get_by_label("Mode").select_option(label="overwrite")
    page.get_by_label("Enabled").uncheck()
    page.get_by_label("Hosts").fill("a.example\nb.example")
    page.get_by_label("Cluster").fill("auth")
    expect(status).to_have_text("Valid configuration.")
    # The status may already read valid before the last field's update lands: wait for it.
    expect(output).to_contain_text('"auth"')
    live = json.loads(output.inner_text())

    submit_config(page)
    expect(page.locator("#config-status")).to_have_text("Valid configuration.")
    expect(page.locator("#code-istio")).to_contain_text("header: x-tenant")
    served = json.loads(page.locator("#config-json").inner_text())
    expected = {"header": "x-tenant", "value": "hello", "limit": 3, "mode": "overwrite",
                "enabled": False, "hosts": ["a.example", "b.example"],
                "upstream": {"cluster": "auth"}}
    assert served == live == expected
    jsonschema.validate(served, CONFIG_SCHEMA)

    # Server-side errors come back into the form.
    page.get_by_label("Header name").fill("x")
    submit_config(page)
    expect(page.locator("#config-status")).to_contain_text("problem")
    expect(page.locator("[data-errors-for='cfg/header'] .error")).to_contain_text("too short")
    page.locator("#configuration").screenshot(path=shots / "plugin-config-errors.png")


def test_install_snippet_tabs_and_star(page: Page, server: RunningServer) -> None:
    page.goto(server.url + "/plugins/acme/add-header#install")
    tabs = page.get_by_role("tab")
    # One tab per platform the page claims (add-header: Istio and Envoy Gateway).
    expect(tabs).to_have_text(["wasmhub pull", "Istio", "Istio TrafficExtension",
                               "Envoy Gateway"])
    page.get_by_role("tab", name="Envoy Gateway", exact=True).click()
    expect(page.locator("#code-envoy-gateway")).to_be_visible()
    expect(page.locator("#code-istio")).to_be_hidden()
    expect(page.locator("#code-envoy-gateway")).to_contain_text("sha256:")

    # Signed out, a star leads to sign in; once signed in, back on the page, it stars.
    star = page.locator("#star-form button")
    expect(star).to_have_attribute("aria-pressed", "false")
    before = int(star.locator(".badge").inner_text())
    star.click()
    page.wait_for_url(re.compile(r"/account/sign-in\?next="))
    page.get_by_label("Username").fill("stella")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/plugins/acme/add-header$"))
    star = page.locator("#star-form button")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(page.locator("#star-form button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#star-form .badge")).to_have_text(str(before + 1))
    page.locator("#star-form button").click()
    expect(page.locator("#star-form button")).to_have_attribute("aria-pressed", "false")


def test_switch_to_chinese(page: Page, server: RunningServer, shots: Path) -> None:
    page.goto(server.url + "/plugins/acme/add-header")
    page.get_by_role("link", name="中文").click()
    expect(page.locator(".plugin-title h1")).to_have_text("添加请求头")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.screenshot(path=shots / "plugin-zh.png", full_page=True)
    page.get_by_role("link", name="wasmhub 首页").click()
    expect(page.get_by_role("heading", name="热门")).to_be_visible()  # the cookie remembers
    page.screenshot(path=shots / "home-zh.png", full_page=True)
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Popular")).to_be_visible()


def test_pages_work_without_javascript(browser: Browser, server: RunningServer,
                                       shots: Path) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280,
                                                                        "height": 900})
    page = context.new_page()
    try:
        page.goto(server.url + "/search")
        page.get_by_label("HTTP filter").check()
        page.get_by_label("Authentication").check()
        page.get_by_role("button", name="Apply filters").click()
        expect(page.locator("#results article h3")).to_have_text(["JWT Auth"])
        assert "category=auth" in page.url

        page.goto(server.url + "/plugins/acme/add-header")
        page.get_by_label("Header name").fill("x-nojs")
        page.get_by_role("button", name="Validate and generate JSON").click()
        expect(page.locator("#config-status")).to_have_text("Valid configuration.")
        assert json.loads(page.locator("#config-json").inner_text())["header"] == "x-nojs"
        expect(page.locator("#code-istio")).to_contain_text("header: x-nojs")

        page.goto(server.url + "/add")
        page.get_by_label("URL").fill("ftp://nowhere/x.wasm")
        page.get_by_label("English name").fill("Nowhere")
        page.get_by_role("button", name="Add plugin").click()
        expect(page.locator("#add-url-error")).to_contain_text("oci://")
        page.screenshot(path=shots / "add-errors-nojs.png", full_page=True)
    finally:
        context.close()


def test_error_page_and_mobile_layout(browser: Browser, server: RunningServer,
                                      shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    try:
        response = page.goto(server.url + "/plugins/acme/nothing-here")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        page.screenshot(path=shots / "not-found-mobile.png")
        page.goto(server.url + "/plugins/acme/add-header")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
        page.screenshot(path=shots / "plugin-mobile.png", full_page=True)
    finally:
        context.close()
