"""The "Signed by" badge, the signatures section and the ``signed`` filter in Chromium
(Playwright), against a real ``wasmhub serve`` with plugins signed through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.cli.helpers import run_json
from tests.signing.conftest import generate_key, publish, sign
from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, page, shots
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.signing.trust import TrustService

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "page", "shots"]  # fixtures


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RunningServer, Path]]:
    data_dir = tmp_path / "hub"
    with running_wasmhub(data_dir) as running:
        yield running, data_dir


def test_badge_signatures_section_and_signed_filter(page: Page, tmp_path: Path, shots: Path,
                                                    server: tuple[RunningServer, Path]) -> None:
    running, data_dir = server
    public = generate_key("release")
    signed = publish(running.host, tmp_path, name="signed-filter")
    publish(running.host, tmp_path, name="unsigned-filter")
    sign(signed.ref, "release", "-a", "pipeline=main")
    provenance = tmp_path / "prov.json"
    provenance.write_text(json.dumps({"buildDefinition": {"buildType": "https://x/b"},
                                      "runDetails": {"builder": {"id": "https://ci/1"}}}))
    run_json("attest", signed.ref, str(provenance), "--type", "provenance", "--key", "release")
    hub = Hub.open(Settings(data_dir=data_dir))  # the server's own database (SQLite)
    try:
        TrustService(hub).add_key("acme", "release", public.read_bytes(), "owner")
    finally:
        hub.close()

    page.goto(f"{running.url}/plugins/acme/signed-filter")
    badge = page.locator(".plugin-head .signed-badge")
    expect(badge).to_have_text("✓ Signed by acme/release")
    expect(page.locator("table.versions .signed-badge")).to_have_text("✓ acme/release")
    badge.click()
    page.wait_for_url(re.compile(r"#signatures$"))
    section = page.locator("#signatures")
    expect(section.get_by_role("heading", name="Signatures")).to_be_visible()
    expect(section.locator("li.signature.verified")).to_have_count(1)
    expect(section.locator("li.signature.verified")).to_contain_text("pipeline=main")
    expect(section.locator("li.attestation.verified")).to_contain_text(
        "https://slsa.dev/provenance/v1")
    section.screenshot(path=shots / "signatures.png")

    page.goto(f"{running.url}/plugins/acme/unsigned-filter")
    expect(page.locator(".signed-badge")).to_have_count(0)
    expect(page.locator("#signatures")).to_contain_text(
        "No signature by a trusted key of this namespace.")

    page.goto(f"{running.url}/search")
    results = page.locator("#results article h3")
    expect(results).to_have_count(2)
    page.get_by_label("Signed by a trusted key").check()
    page.wait_for_url(re.compile(r"signed=yes"))
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("signed-filter")
