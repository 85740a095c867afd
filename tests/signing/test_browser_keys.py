"""The "Signing keys" page (``/orgs/{org}/keys``) in Chromium against a real ``wasmhub
serve``: the owner of acme signs in, is refused a bad PEM with the reason on the page,
registers a public key by pasting its PEM, requires signatures for deploy and revokes the
key; a member of acme sees no link and no forms and is refused the page. What the page
shows is checked against the REST API. Screenshot: ``signing-keys.png``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import PASSWORD, make_user
from tests.support.servers import RunningServer, running_wasmhub
from tests.web.browser import browser, shots
from wasmhub.authz.principal import Principal, PrincipalKind
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.signing.keys import SigningKey

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shots"]  # fixtures


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A hub where olive owns acme and meg is a member of it."""
    data_dir = tmp_path / "hub"
    with running_wasmhub(data_dir, extra_env={"WASMHUB_OPEN_NAMESPACES": "false"}) as running:
        hub = Hub.open(Settings(data_dir=data_dir))  # the server's own database (SQLite)
        try:
            make_user(hub, "olive", owns=("acme",))
            make_user(hub, "meg")
            owner = Principal(PrincipalKind.USER, username="olive",
                              user_id=hub.identity.accounts.get_user("olive").id)
            hub.identity.orgs.invite(owner, "acme", "meg", "member")
            meg = Principal(PrincipalKind.USER, username="meg",
                            user_id=hub.identity.accounts.get_user("meg").id)
            hub.identity.orgs.answer_invitation(meg, "acme", True)
        finally:
            hub.close()
        yield running


def _signed_in(browser: Browser, server: RunningServer, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900},
                               locale="en-US").new_page()
    page.goto(server.url + "/account/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav-account")).to_have_text(username)
    return page


def _add_key(page: Page, name: str, pem: str) -> None:
    form = page.locator("#key-add-form")
    form.get_by_label("Key name").fill(name)
    form.get_by_label("Public key (PEM)").fill(pem)
    form.get_by_role("button", name="Add key").click()


def test_owner_manages_keys_and_policy_member_is_refused(
        browser: Browser, server: RunningServer, shots: Path) -> None:
    page = _signed_in(browser, server, "olive")
    page.goto(server.url + "/orgs/acme")
    page.locator("#keys-link").click()
    expect(page.get_by_role("heading", name="acme · Signing keys")).to_be_visible()
    expect(page.locator("#no-keys")).to_be_visible()
    expect(page.get_by_text("Currently: optional (built-in)")).to_be_visible()

    # A bad PEM: the reason on the page, nothing registered.
    _add_key(page, "broken", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----")
    expect(page.locator("#form-error")).to_contain_text("is not a PEM PUBLIC KEY")
    expect(page.locator("#no-keys")).to_be_visible()
    private = SigningKey.generate()
    _add_key(page, "leaked", private.to_pem(PASSWORD).decode())
    expect(page.locator("#form-error")).to_contain_text("is a private key")
    assert httpx.get(f"{server.url}/api/v1/namespaces/acme/keys").json() == []

    public = private.public
    _add_key(page, "release", public.to_pem().decode())
    expect(page.locator("#notice")).to_have_text("Key release added.")
    [key] = httpx.get(f"{server.url}/api/v1/namespaces/acme/keys").json()
    row = page.locator("#key-release")
    expect(row).to_contain_text(key["fingerprint"])
    expect(row.locator(".key-status")).to_have_text("active")

    page.locator("#policy-mode").select_option("required-for-deploy")
    page.locator("#policy-form").get_by_role("button", name="Save policy").click()
    expect(page.locator("#notice")).to_have_text("Signature policy updated.")
    expect(page.get_by_text("Currently: required-for-deploy (namespace)")).to_be_visible()
    expect(page.locator("#policy-mode")).to_have_value("required-for-deploy")
    policy = httpx.get(f"{server.url}/api/v1/namespaces/acme/trust-policy").json()
    assert policy == {"namespace": "acme", "mode": "required-for-deploy",
                      "source": "namespace"}
    page.screenshot(path=str(shots / "signing-keys.png"), full_page=True)

    # A member: no link on the organization page, no forms, the page refused.
    member = _signed_in(browser, server, "meg")
    member.goto(server.url + "/orgs/acme")
    expect(member.get_by_role("heading", name="acme")).to_be_visible()
    expect(member.locator("#keys-link")).to_have_count(0)
    response = member.goto(server.url + "/orgs/acme/keys")
    assert response is not None and response.status == 403
    expect(member.locator("form#key-add-form, form#policy-form, form#key-revoke-form")
           ).to_have_count(0)
    member.context.close()

    # Revoking keeps the key listed, marked revoked with the reason.
    revoke = page.locator("#key-revoke-form")
    revoke.get_by_label("Key").select_option("release")
    revoke.get_by_label("Reason").fill("laptop stolen")
    revoke.get_by_role("button", name="Revoke").click()
    expect(page.locator("#notice")).to_have_text("Key release revoked.")
    expect(page.locator("#key-release .key-status")).to_have_text("revoked (laptop stolen)")
    [key] = httpx.get(f"{server.url}/api/v1/namespaces/acme/keys").json()
    assert key["status"] == "revoked" and key["revoked_reason"] == "laptop stolen"
    page.context.close()
