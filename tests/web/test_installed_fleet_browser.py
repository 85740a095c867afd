"""The Installed page's Envoy fleet section in Debian's Chromium against a real
``wasmhub serve --xds-port`` (its ECDS server running): fleet deployments and node
reports made through FleetService and the xDS server's own ``node_*`` calls
(tests/web/fleet_seed.py) before the hub starts; the page shows nodes with their ACKed
revision, one NACK text, a stale node, and for a plugin with no fleet deployment the
``wasmhub deploy envoy … --xds --apply`` command with a working copy button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.servers import RunningServer, free_port, running_wasmhub
from tests.web.browser import browser, shots
from tests.web.fleet_seed import NACK_TEXT, publish, seed_fleet
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shots"]  # fixtures


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("fleet-browser") / "data"
    hub = Hub.open(Settings(data_dir=data_dir, open_namespaces=True))
    try:
        upgrade(hub.database)
        seed_fleet(hub)
        publish(hub, "acme/lonely", "2.0.0")
    finally:
        hub.close()
    # No Envoy connects: nodes reported connected stay fresh for the longest stale window.
    env = {"WASMHUB_XDS_PORT": str(free_port()), "WASMHUB_XDS_STALE_SECONDS": "3600",
           "WASMHUB_PUBLIC_URL": "http://127.0.0.1:5080"}
    with running_wasmhub(data_dir, extra_env=env) as running:
        yield running


@pytest.fixture
def page(browser: Browser, fleet_server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=fleet_server.url)
    yield context.new_page()
    context.close()


def test_fleet_section_shows_acks_a_nack_and_a_stale_node(
        page: Page, fleet_server: RunningServer, shots: Path) -> None:
    page.goto(fleet_server.url + "/plugins/acme/hdr")
    page.locator("#installed-link").click()
    section = page.locator('[data-section="envoy-fleet"]')
    expect(section.get_by_role("heading", name="Envoy fleet (xDS)")).to_be_visible()
    expect(section).to_contain_text("xDS (ECDS) server: 127.0.0.1:")
    # The Kubernetes section is still there, beside it.
    expect(page.locator('[data-section="kubernetes"]')).to_contain_text("no cluster access")

    edge = section.locator('[data-fleet="acme/edge"]')
    expect(edge.locator("[data-fleet-rollout]")).to_contain_text("halted")
    expect(edge.locator("[data-fleet-message]")).to_contain_text("NACKed by edge-b")
    expect(edge.locator("[data-fleet-stable]")).to_contain_text("revision 1 · 1.0.0")
    a = edge.locator('tr[data-node="edge-a"]')
    expect(a.locator("[data-acked]")).to_contain_text("revision 1 · 1.0.0")
    expect(a).to_contain_text("eu-west/zone-a")
    expect(a).to_contain_text("1.40.0")
    expect(a.locator("[data-connection]")).to_have_text("connected")
    b = edge.locator('tr[data-node="edge-b"]')
    expect(b.locator("[data-nack]")).to_contain_text("revision 2 refused")
    expect(b.locator(".nack-error")).to_have_text(NACK_TEXT)
    c = edge.locator('tr[data-node="edge-c"]')
    expect(c).to_have_attribute("data-stale", "")
    expect(c.locator("[data-connection]")).to_contain_text("stale")
    expect(c.locator("[data-connection] time")).to_have_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(section.locator("tr[data-stale]")).to_have_count(1)

    canary = section.locator('[data-fleet="acme/canary"]')
    expect(canary.locator("[data-fleet-rollout]")).to_contain_text("rolling")
    expect(canary.locator("[data-fleet-rollout]")).to_contain_text("candidate: revision 2")
    expect(canary.locator("[data-fleet-version]")).to_have_text("follows tag 1.1.0")
    expect(section.locator('[data-fleet="acme/unrelated"]')).to_have_count(0)
    section.scroll_into_view_if_needed()
    page.screenshot(path=shots / "installed-fleet.png", full_page=True)


def test_no_fleet_deployment_offers_the_command(page: Page, fleet_server: RunningServer
                                                ) -> None:
    page.goto(fleet_server.url + "/installed/acme/lonely")
    section = page.locator('[data-section="envoy-fleet"]')
    expect(section.locator("[data-installed-message]")).to_contain_text(
        "No fleet deployments of this plugin")
    command = "wasmhub deploy envoy 127.0.0.1:5080/acme/lonely:2.0.0 --xds --apply"
    expect(section.locator("#fleet-deploy-command")).to_have_text(command)
    button = section.locator('button[data-copy="fleet-deploy-command"]')
    button.click()
    expect(button).to_have_class("btn btn-small copy copied")
    assert page.evaluate("navigator.clipboard.readText()") == command
