"""The Apply and Installed pages in Debian's Chromium against a real ``wasmhub serve``
whose cluster access (deploy_kubeconfig) points at tests/deploy's in-process Kubernetes
API server: form → rendered resources → copy (read back from the clipboard), platform
switching, field errors, and the Installed page showing deployed objects' status; a
second hub without cluster access shows the message naming the setting."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.deploy.fake_kube import UNVALIDATED, FakeKube, kubeconfig_for, vendored_types
from tests.support.accounts import PASSWORD
from tests.support.servers import RunningServer, running_wasmhub, serving_in_thread
from tests.web.browser import browser, shots
from tests.web.seed import seed_catalog
from wasmhub.catalog.service import CatalogService
from wasmhub.db.migrate import upgrade
from wasmhub.deploy import provider_for
from wasmhub.deploy.kube import Cluster
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.web.apply_page import ApplyForm, build

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "shots"]  # fixtures
NS = "shop"


def _seed(data_dir: Path, kubeconfig: Path | None) -> None:
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        catalog = CatalogService(hub)
        seed_catalog(catalog)
        hub.identity.accounts.create_user("root", "root@example.com", PASSWORD, is_admin=True)
        if kubeconfig is not None:  # deployed as `wasmhub deploy --apply` would
            version = catalog.get_version("acme", "add-header", "1.0.0")
            result = build(ApplyForm({"platform": "istio", "namespace": NS,
                                      "selector": "app=web", "priority": "40"}),
                           version, "http://127.0.0.1:5080", config=version.example_config,
                           config_errors={})
            assert result.rendering is not None, result.errors
            provider_for("istio").apply(result.rendering, Cluster.connect(kubeconfig))
    finally:
        hub.close()


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("deploy-browser")
    kube = FakeKube(vendored_types() + UNVALIDATED)
    kube.add_pod(NS, "web-1", {"app": "web"})
    kube.add_pod(NS, "web-2", {"app": "web"})
    with serving_in_thread(kube.app(), "fake-kube") as url:
        kubeconfig = base / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(kubeconfig_for(url)))
        _seed(base / "data", kubeconfig)
        env = {"WASMHUB_DEPLOY_KUBECONFIG": str(kubeconfig),
               "WASMHUB_PUBLIC_URL": "http://127.0.0.1:5080"}
        with running_wasmhub(base / "data", extra_env=env) as running:
            yield running


@pytest.fixture
def page(browser: Browser, kube_server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=kube_server.url)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, server: RunningServer) -> None:
    page.goto(server.url + "/account/sign-in")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


def test_apply_form_renders_and_copies(page: Page, kube_server: RunningServer,
                                       shots: Path) -> None:
    page.goto(kube_server.url + "/plugins/acme/add-header")
    page.locator("#apply-link").click()
    expect(page.get_by_role("heading", name="Apply Add Header")).to_be_visible()
    # Istio first (the plugin claims it): the selector is shown, Envoy Gateway's refs not.
    expect(page.get_by_label("Workload labels")).to_be_visible()
    expect(page.get_by_label("Gateways")).to_be_hidden()
    page.get_by_label("Platform").select_option("envoy-gateway")
    expect(page.get_by_label("Workload labels")).to_be_hidden()
    page.get_by_label("Target references").fill("HTTPRoute/store")
    page.get_by_label("Kubernetes namespace").fill(NS)
    page.get_by_label("Priority").fill("250")
    page.get_by_label("VM environment from the host").fill("POD_NAME")
    page.get_by_label("Header name").fill("x-tenant")
    page.get_by_role("button", name="Render").click()
    rendered = page.locator("#rendered-yaml")
    expect(rendered).to_contain_text("kind: EnvoyExtensionPolicy")
    page.screenshot(path=shots / "apply.png", full_page=True)
    [doc] = yaml.safe_load_all(rendered.inner_text())
    assert doc["metadata"]["namespace"] == NS
    assert doc["spec"]["targetRefs"][0]["name"] == "store"
    assert "x-tenant" in rendered.inner_text()

    command = page.locator("#deploy-command").inner_text()
    page.locator('button[data-copy="deploy-command"]').click()
    expect(page.locator('button[data-copy="deploy-command"]')).to_have_class(
        "btn btn-small copy copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == command
    args = shlex.split(copied)
    assert args[:4] == ["wasmhub", "deploy", "envoy-gateway",
                        "127.0.0.1:5080/acme/add-header:1.0.0"]
    assert "--target-ref" in args and "HTTPRoute/store" in args and "-l" not in args
    page.locator('button[data-copy="rendered-yaml"]').click()
    page.wait_for_function("document.querySelector('button[data-copy=\"rendered-yaml\"]')"
                           ".classList.contains('copied')")
    assert list(yaml.safe_load_all(page.evaluate("navigator.clipboard.readText()"))) == [doc]

    # A bad priority comes back next to its field; nothing is rendered.
    page.get_by_label("Priority").fill("1001")
    page.get_by_role("button", name="Render").click()
    expect(page.locator("#apply-status")).to_contain_text("problem")
    expect(page.get_by_label("Priority")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#apply-priority-error")).to_contain_text("1000")
    expect(page.locator("#rendered-yaml")).to_have_count(0)
    # Signed out there is no Apply to cluster button.
    expect(page.locator("#apply-to-cluster")).to_have_count(0)


def test_installed_page_shows_cluster_status(page: Page, kube_server: RunningServer,
                                             shots: Path) -> None:
    page.goto(kube_server.url + "/installed/acme/add-header")
    expect(page.locator('[data-section="kubernetes"] [data-installed-message]')).to_contain_text(
        "Sign in")
    _sign_in(page, kube_server)
    page.goto(kube_server.url + "/plugins/acme/add-header")
    page.locator("#installed-link").click()
    row = page.locator(f'tr[data-installed="{NS}/add-header"]')
    expect(row).to_contain_text("WasmPlugin")
    expect(row).to_contain_text("1.0.0")
    expect(row).to_contain_text("web-1")
    expect(row).to_contain_text("AUTHN")
    page.screenshot(path=shots / "installed.png", full_page=True)

    # Apply to cluster from the form, then it is listed too.
    page.goto(kube_server.url + "/apply/acme/add-header")
    page.get_by_label("Resource name").fill("second")
    page.get_by_label("Kubernetes namespace").fill(NS)
    page.get_by_label("Header name").fill("x-second")
    page.locator("#apply-to-cluster").click()
    # The seeded catalog has no image to inspect: the checks refuse, naming why.
    expect(page.locator(".alert-error").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("could not be inspected")
    page.goto(kube_server.url + "/installed/acme/add-header")
    expect(page.locator(f'tr[data-installed="{NS}/second"]')).to_have_count(0)


def test_installed_page_without_cluster_access(
        browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("no-cluster") / "data"
    _seed(data_dir, None)
    with running_wasmhub(data_dir) as server:
        context = browser.new_context(locale="en-US")
        try:
            page = context.new_page()
            page.goto(server.url + "/installed/acme/add-header")
            message = page.locator('[data-section="kubernetes"] [data-installed-message]')
            expect(message).to_contain_text("no cluster access")
            expect(message).to_contain_text("deploy_kubeconfig")
            page.goto(server.url + "/apply/acme/add-header")
            expect(page.locator("#rendered-yaml")).to_contain_text("kind: WasmPlugin")
            expect(page.locator("body")).to_contain_text("This hub has no cluster access")
        finally:
            context.close()
