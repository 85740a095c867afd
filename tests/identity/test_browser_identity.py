"""Accounts in Chromium against a real ``wasmhub serve`` (open sign-up, no open
namespaces): sign up, sign in, create an organization and a team, invite a member who
accepts and joins the team, make a plugin private, and check from other browser
contexts that an outsider cannot find it anywhere (page, search, facets) while the
member can. Screenshots: ``identity-org.png``, ``identity-private-outsider.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.catalog.publish import packed_plugin
from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, shots

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]
__all__ = ["browser", "shots"]  # fixtures
PASSWORD = "correct horse battery"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningServer]:
    env = {"WASMHUB_OPEN_NAMESPACES": "false", "WASMHUB_SIGNUP": "open"}
    with running_wasmhub(tmp_path / "hub", extra_env=env) as running:
        yield running


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    return context.new_page()


def sign_up(page: Page, hub: RunningServer, username: str) -> None:
    page.goto(hub.url + "/account/sign-in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("E-mail").fill(f"{username}@example.com")
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=username, exact=True)).to_be_visible()


def sign_in(page: Page, hub: RunningServer, username: str) -> None:
    page.goto(hub.url + "/account/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav-account")).to_have_text(username)


def push_plugin(hub: RunningServer, username: str, repository: str) -> None:
    """Publish a real plugin image with the owner's credentials (Docker token flow)."""
    image = packed_plugin("secret-filter", "1.0.0", en="Secret Filter",
                          description="browserprivate checks")
    scope = f"repository:{repository}:pull,push"
    token = httpx.get(f"{hub.url}/auth/token", params={"service": "wasmhub", "scope": scope},
                      auth=(username, PASSWORD), timeout=30).raise_for_status().json()["token"]
    with httpx.Client(base_url=hub.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        for blob in image.blobs():
            start = http.post(f"/v2/{repository}/blobs/uploads/")
            assert start.status_code == 202, start.text
            done = http.put(start.headers["location"], params={"digest": blob.digest},
                            content=blob.data)
            assert done.status_code == 201, done.text
        put = http.put(f"/v2/{repository}/manifests/1.0.0", content=image.manifest,
                       headers={"Content-Type": image.manifest_media_type})
        assert put.status_code == 201, put.text


def org_form(page: Page, form: str, **fields: str) -> None:
    for label_id, value in fields.items():
        page.locator(f"#{form} [id$='-{label_id}']").fill(value)
    page.locator(f"#{form} button[type=submit]").click()
    expect(page.locator("#notice")).to_be_visible()


def test_private_plugin_invisible_to_outsiders(browser: Browser, hub: RunningServer,
                                               shots: Path) -> None:
    alice, bob, carl = new_page(browser), new_page(browser), new_page(browser)
    sign_up(alice, hub, "alice")
    sign_up(bob, hub, "bob")
    sign_up(carl, hub, "carl")
    # Sign out and back in (the session cookie is HttpOnly; the form is CSRF-protected).
    alice.locator("#sign-out").click()
    expect(alice.locator("#nav-sign-in")).to_be_visible()
    sign_in(alice, hub, "alice")

    alice.goto(hub.url + "/orgs/new")
    alice.get_by_label("Name (also its namespace)").fill("acme")
    alice.get_by_role("button", name="Create").click()
    expect(alice.get_by_role("heading", name="acme")).to_be_visible()
    org_form(alice, "team-form", team="devs")
    org_form(alice, "invite-form", username="carl")
    expect(alice.locator("#invited")).to_contain_text("carl")

    carl.goto(hub.url + "/account")
    carl.locator("#accept-acme").click()
    expect(carl.locator("#organizations")).to_contain_text("acme (member)")
    alice.goto(hub.url + "/orgs/acme")
    org_form(alice, "team-member-form", team="devs", username="carl")
    org_form(alice, "grant-form", team="devs", repository="*")
    expect(alice.locator("#team-devs")).to_contain_text("carl")
    alice.screenshot(path=str(shots / "identity-org.png"), full_page=True)

    push_plugin(hub, "alice", "acme/secret")
    bob.goto(hub.url + "/search?q=browserprivate")
    expect(bob.locator('a[href="/plugins/acme/secret"]').first).to_be_visible()

    alice.goto(hub.url + "/settings/plugins/acme/secret")
    alice.locator("#setting-private").check()
    alice.get_by_role("button", name="Save").click()
    expect(alice.locator("#notice")).to_be_visible()

    # The outsider: no page, no search result, no facet value, no count.
    response = bob.goto(hub.url + "/plugins/acme/secret")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Page not found")).to_be_visible()
    bob.goto(hub.url + "/search?q=browserprivate")
    expect(bob.locator('a[href="/plugins/acme/secret"]')).to_have_count(0)
    expect(bob.locator('input[name="namespace"][value="acme"]')).to_have_count(0)
    bob.goto(hub.url + "/search")
    expect(bob.locator('input[name="namespace"][value="acme"]')).to_have_count(0)
    bob.screenshot(path=str(shots / "identity-private-outsider.png"), full_page=True)
    # Signed out, the same.
    anonymous = new_page(browser)
    response = anonymous.goto(hub.url + "/plugins/acme/secret")
    assert response is not None and response.status == 404
    # The member still sees it everywhere.
    carl.goto(hub.url + "/plugins/acme/secret")
    expect(carl.get_by_role("heading", name="Secret Filter")).to_be_visible()
    carl.goto(hub.url + "/search?q=browserprivate")
    expect(carl.locator('a[href="/plugins/acme/secret"]').first).to_be_visible()
    expect(carl.locator('input[name="namespace"][value="acme"]')).to_have_count(1)
