"""The playground in Debian's Chromium against a real ``wasmhub serve``: the rate-limit
sample (built from source) answers 429 once its quota is used up, and a module that loops
forever is stopped by the CPU limit with a clear message while the server keeps answering.
Screenshots land in ``test-output/screenshots/``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, page, shots
from tests.web.playground_support import publish_rate_limit, publish_spinner, rate_limit_wasm
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "page", "rate_limit_wasm", "shots"]  # fixtures
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           rate_limit_wasm: bytes) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("playground-hub")
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        publish_rate_limit(hub, rate_limit_wasm)
        publish_spinner(hub)
    finally:
        hub.close()
    # A long CPU limit, so the spinner is still running while /healthz is asked.
    with running_wasmhub(data_dir, extra_env={"WASMHUB_PLAYGROUND_CALLBACK_MS": "3000"}) as up:
        yield up


def _run(page: Page) -> None:
    output = page.locator("#playground-output")
    before = output.get_attribute("data-runs") or "0"
    page.get_by_role("button", name="Run", exact=True).click()
    expect(output).to_have_attribute("data-runs", str(int(before) + 1), timeout=WAIT_MS)


def test_rate_limit_until_429(page: Page, server: RunningServer, shots: Path) -> None:
    page.goto(server.url + "/plugins/library/rate-limit")
    page.get_by_role("link", name="Try it in the playground").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Playground")
    page.locator("#pg-headers").fill("x-user: bob")
    status = page.locator("#pg-status")
    seen: list[str] = []
    for count in range(1, 9):  # the example config gives free users 3 per window
        page.locator("#pg-repeat").fill(str(count))
        _run(page)
        seen.append(status.get_attribute("data-status") or "")
        if seen[-1] == "429":
            break
    assert seen[-1] == "429", seen
    assert seen[0] == "200"
    expect(page.locator("#playground-output")).to_contain_text("answered by the plugin")
    expect(page.locator("#pg-upstream-out")).to_contain_text("did not reach the upstream")
    expect(page.locator("#pg-body-out")).to_contain_text("rate limited")
    page.screenshot(path=shots / "playground-429.png", full_page=True)


def test_endless_loop_is_stopped_and_the_server_keeps_answering(
    page: Page, server: RunningServer, shots: Path,
) -> None:
    page.goto(server.url + "/playground/library/spinner")
    health: list[int] = []

    def ask() -> None:
        health.append(httpx.get(server.url + "/healthz", timeout=30).status_code)

    page.get_by_role("button", name="Run", exact=True).click()
    during = threading.Thread(target=ask)
    during.start()
    limit = page.locator("#pg-limit")
    expect(limit).to_contain_text("proxy_on_request_headers was stopped", timeout=WAIT_MS)
    expect(limit).to_contain_text("CPU limit of 3000 ms per callback")
    during.join(timeout=60)
    ask()
    assert health == [200, 200]
    expect(page.locator("#pg-status")).to_have_attribute("data-status", "503")
    page.screenshot(path=shots / "playground-limit.png", full_page=True)
