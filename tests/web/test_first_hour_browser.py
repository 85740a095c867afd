"""A newcomer's first look at the UI (issue 9), in Debian's Chromium against ``wasmhub serve``.

The hub holds the real sample plugins of examples/ (built if needed, then published by
``wasmhub.catalog.seed`` as ``wasmhub seed`` does), so the pages show what a new user sees
after ``scripts/serve``. Screenshots land in ``test-output/screenshots/first-hour-*.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, page, shots
from wasmhub.catalog.seed import build_samples, default_examples_dir, seed_samples
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]
__all__ = ["browser", "page", "shots"]  # fixtures

RATE_LIMIT = "/plugins/library/rate-limit"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("first-hour-hub")
    examples = default_examples_dir()
    failed = build_samples(examples)
    assert not {"rate-limit", "add-header"} & set(failed), failed
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        seed_samples(hub, examples)
    finally:
        hub.close()
    with running_wasmhub(data_dir) as running:
        yield running


def module_size(name: str) -> int:
    return (default_examples_dir() / name / "build" / "plugin.wasm").stat().st_size


def test_home_teaches_commands_that_name_this_hub(page: Page, server: RunningServer,
                                                  shots: Path) -> None:
    page.goto(server.url + "/")
    box = page.locator("[data-commands='quick-start'] code.cmd")
    expect(box).to_have_count(5)
    commands = box.all_inner_texts()
    assert commands[0] == "wasmhub init my-filter"
    assert commands[3] == f"wasmhub push my-filter {server.host}/acme/my-filter:1.0.0"
    assert commands[4] == f"wasmhub pull {server.host}/acme/my-filter:1.0.0 -o vendor/"
    expect(page.locator(".hero-stats strong").first).to_have_text("5")
    page.screenshot(path=shots / "first-hour-home.png", full_page=True)


def test_search_forgives_joined_words_and_typos(page: Page, server: RunningServer,
                                                shots: Path) -> None:
    page.goto(server.url + "/search?q=ratelimit")
    expect(page.locator("#results article h3").first).to_have_text("Per-User Rate Limit")
    expect(page.locator(".corrected")).to_contain_text("showing results for")
    page.screenshot(path=shots / "first-hour-search.png", full_page=True)
    page.goto(server.url + "/search?q=hedaer")
    titles = page.locator("#results article h3").all_inner_texts()
    assert "Add Header" in titles, titles

    page.goto(server.url + "/search?q=zzqqxx")
    empty = page.locator("#results .empty")
    expect(empty).to_contain_text("No plugins match “zzqqxx”.")
    expect(empty.get_by_role("link", name="Clear all filters")).to_have_count(0)
    page.goto(server.url + "/search?q=zzqqxx&category=security")
    expect(page.locator("#results .empty").get_by_role(
        "link", name="Clear all filters")).to_have_count(1)


def test_plugin_page_sizes_versions_and_copy(page: Page, server: RunningServer) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(server.url + RATE_LIMIT)
    facts = page.locator(".facts").first
    size = module_size("rate-limit")
    expect(facts.locator("dt", has_text="Module size").locator("xpath=following-sibling::dd[1]")
           ).to_have_attribute("title", f"{size} bytes")
    digest_code = page.locator("table.versions code.full-digest").first
    digest = digest_code.inner_text()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
    pull = page.locator("table.versions code[id^='pull-']").first
    expect(pull).to_have_text(f"wasmhub pull {server.host}/library/rate-limit:0.1.0")
    page.locator("table.versions button.copy-inline").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == digest


def test_config_form_edits_maps_and_snippets_follow(page: Page, server: RunningServer,
                                                    shots: Path) -> None:
    page.goto(server.url + RATE_LIMIT)
    page.wait_for_function(
        "() => document.querySelector('[data-map-field] .map-editor') !== null")
    users = page.locator("[data-map-field]").filter(has=page.locator("textarea[name='cfg/users']"))
    plans = page.locator("[data-map-field]").filter(has=page.locator("textarea[name='cfg/plans']"))
    expect(plans.locator(".map-row")).not_to_have_count(0)
    expect(users.locator("textarea[name='cfg/users']")).to_be_hidden()

    snippet = page.locator("#code-istio")
    expect(snippet).not_to_contain_text("zoe")
    users.get_by_role("button", name=re.compile("Add entry")).click()
    row = users.locator(".map-row").last
    row.locator(".map-key").fill("zoe")
    row.locator(".map-value").fill("gold")
    stored = json.loads(users.locator("textarea[name='cfg/users']").input_value())
    assert stored["zoe"] == "gold"
    expect(page.locator("#config-json")).to_contain_text('"zoe": "gold"')
    # no click on "Validate and generate JSON": the install snippet follows by itself
    expect(snippet).to_contain_text("zoe", timeout=30_000)
    page.locator("#configuration").screenshot(path=shots / "first-hour-config-form.png")
    page.screenshot(path=shots / "first-hour-plugin.png", full_page=True)


def test_chinese_ui_translates_field_texts_and_error_details(
    page: Page, server: RunningServer, shots: Path
) -> None:
    page.goto(server.url + RATE_LIMIT + "?lang=zh")
    expect(page.locator("#configuration")).to_contain_text("每个用户对应的套餐")
    expect(page.locator("#configuration")).not_to_contain_text("Plan per user")
    page.screenshot(path=shots / "first-hour-plugin-zh.png", full_page=True)
    response = page.goto(server.url + "/plugins/nobody/nothing")
    assert response is not None and response.status == 404
    detail = page.locator(".error-page p").nth(1).inner_text()
    assert "/plugins/nobody/nothing" in detail and "没有内容" in detail, detail
    page.screenshot(path=shots / "first-hour-404-zh.png")
