"""The Installed page (/installed/{ns}/{name}) and Apply to cluster, in-process, against
the in-process Kubernetes API server of tests/deploy (schema-validating): the message
without cluster access, who may see and apply (site administrators: cluster:read /
cluster:apply), the plugin's installations read through the providers' status(), an
unreachable cluster, and an apply that lands (or is refused by the pre-apply checks)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from tests.catalog.publish import packed_plugin, push
from tests.deploy.fake_kube import UNVALIDATED, FakeKube, kubeconfig_for, vendored_types
from tests.support.accounts import PASSWORD, sign_in
from tests.support.servers import free_port, serving_in_thread
from tests.web.seed import seed_catalog
from wasmhub.app import create_app
from wasmhub.catalog.service import CatalogService
from wasmhub.deploy import provider_for
from wasmhub.deploy.kube import Cluster
from wasmhub.hub import Hub
from wasmhub.settings import Settings
from wasmhub.web.apply_page import ApplyForm, build

NS = "shop"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeKube, Path]]:
    kube = FakeKube(vendored_types() + UNVALIDATED)
    kube.add_pod(NS, "web-1", {"app": "web"})
    kube.add_pod(NS, "web-2", {"app": "web"})
    kube.add_pod(NS, "db-1", {"app": "db"})
    with serving_in_thread(kube.app(), "fake-kube") as url:
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_for(url)))
        yield kube, path


def _client(tmp_path: Path, database_url: str, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(
        data_dir=tmp_path / "data", database_url=database_url, open_namespaces=True,
        **settings)), raise_server_exceptions=False)  # type: ignore[arg-type]


def _admin(client: TestClient) -> str:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    info = hub.identity.accounts.create_user("root", "root@example.com", PASSWORD,
                                             is_admin=True)
    session = hub.identity.accounts.start_session(info.id, "testclient")
    client.cookies.set("wasmhub_session", session.cookie)
    return session.csrf_token


def _deploy(client: TestClient, cluster: Cluster, repository: str, form: dict[str, str]
            ) -> None:
    """Put the plugin in the cluster as `wasmhub deploy --apply` would (same renderer)."""
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    namespace, name = repository.split("/")
    version = CatalogService(hub).get_version(namespace, name, "1.0.0")
    result = build(ApplyForm(form), version, hub.settings.base_url,
                   config=version.example_config, config_errors={})
    assert result.rendering is not None, result.errors
    provider_for(result.rendering.deployment.platform).apply(result.rendering, cluster)


def rows(html: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(
        r'<tr data-installed="([^"]+)">(.*?)</tr>', html, re.S)}


def test_without_cluster_access_the_page_says_which_setting(
        tmp_path: Path, database_url: str) -> None:
    with _client(tmp_path, database_url) as client:
        seed_catalog(CatalogService(client.app.state.hub))  # type: ignore[attr-defined]
        _admin(client)
        response = client.get("/installed/acme/add-header")
        assert response.status_code == 200
        text = html_lib.unescape(response.text)
        assert 'data-section="kubernetes"' in text
        assert "no cluster access" in text and "deploy_kubeconfig" in text
        assert "WASMHUB_DEPLOY_KUBECONFIG" in text and "<table" not in text


def test_installed_lists_this_plugins_resources_with_status(
        tmp_path: Path, database_url: str, fake: tuple[FakeKube, Path]) -> None:
    _kube, kubeconfig = fake
    cluster = Cluster.connect(kubeconfig)
    with _client(tmp_path, database_url, deploy_kubeconfig=kubeconfig) as client:
        seed_catalog(CatalogService(client.app.state.hub))  # type: ignore[attr-defined]
        _deploy(client, cluster, "acme/add-header",
                {"platform": "istio", "namespace": NS, "selector": "app=web",
                 "priority": "40"})
        _deploy(client, cluster, "acme/add-header",
                {"platform": "envoy-gateway", "namespace": NS, "name": "edge",
                 "target_refs": "HTTPRoute/store"})
        _deploy(client, cluster, "acme/rate-limit",
                {"platform": "istio", "namespace": NS, "selector": "app=db"})
        url = "/installed/acme/add-header"

        anonymous = html_lib.unescape(client.get(url).text)
        assert "Sign in as a hub administrator" in anonymous and "<table" not in anonymous
        sign_in(client, "otto")
        outsider = html_lib.unescape(client.get(url).text)
        assert "cluster:read" in outsider and "<table" not in outsider

        _admin(client)
        html = client.get(url).text
        found = rows(html)
        assert set(found) == {f"{NS}/add-header", f"{NS}/edge"}  # not rate-limit's
        istio = found[f"{NS}/add-header"]
        assert "Istio" in istio and "WasmPlugin" in istio and "1.0.0" in istio
        assert "AUTHN" in istio and ">40<" in istio
        assert "web-1" in istio and "web-2" in istio and "db-1" not in istio
        assert "HTTPRoute" in found[f"{NS}/edge"]
        assert 'data-section="kubernetes"' in html
        # The plugin page links here.
        assert 'href="/installed/acme/add-header"' in client.get("/plugins/acme/add-header").text


def test_unreachable_cluster_is_a_message_not_an_error_page(
        tmp_path: Path, database_url: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(kubeconfig_for(f"http://127.0.0.1:{free_port()}")))
    with _client(tmp_path, database_url, deploy_kubeconfig=kubeconfig,
                 deploy_timeout_seconds=5) as client:
        seed_catalog(CatalogService(client.app.state.hub))  # type: ignore[attr-defined]
        _admin(client)
        response = client.get("/installed/acme/add-header")
        assert response.status_code == 200
        assert "cannot reach the cluster" in html_lib.unescape(response.text)


def test_apply_to_cluster_for_site_admins_only(
        tmp_path: Path, database_url: str, fake: tuple[FakeKube, Path]) -> None:
    _kube, kubeconfig = fake
    cluster = Cluster.connect(kubeconfig)
    with _client(tmp_path, database_url, deploy_kubeconfig=kubeconfig) as client:
        hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
        push(hub, "acme/real", "1.0.0", packed_plugin("real", "1.0.0", en="Real"))
        url = "/apply/acme/real"
        form = {"version": "1.0.0", "action": "apply", "platform": "istio",
                "namespace": NS, "selector": "app=web", "priority": "7"}

        token = sign_in(client, "otto")
        page = client.get(url).text
        assert 'id="apply-to-cluster"' not in page and "cluster:apply" in page
        assert client.post(url, data={**form, "csrf_token": token}).status_code == 403

        token = _admin(client)
        page = client.get(url).text
        assert 'id="apply-to-cluster"' in page
        assert client.post(url, data=form).status_code == 403  # no CSRF token
        response = client.post(url, data={**form, "csrf_token": token})
        assert response.status_code == 200, response.text[-2000:]
        assert "Applied to the cluster:" in response.text and "WasmPlugin/real" in response.text
        [installed] = [i for i in provider_for("istio").status(cluster, NS) if i.name == "real"]
        assert installed.priority == 7 and installed.managed
        version = CatalogService(hub).get_version("acme", "real", "1.0.0")
        assert installed.digest == version.version.digest.removeprefix("sha256:")

        # A bad field: nothing is applied, the form says why.
        response = client.post(url, data={**form, "priority": "0", "name": "other",
                                          "csrf_token": token})
        assert response.status_code == 422
        assert all(i.name != "other" for i in provider_for("istio").status(cluster, NS))


def test_apply_refuses_a_module_it_cannot_check(
        tmp_path: Path, database_url: str, fake: tuple[FakeKube, Path]) -> None:
    _kube, kubeconfig = fake
    cluster = Cluster.connect(kubeconfig)
    with _client(tmp_path, database_url, deploy_kubeconfig=kubeconfig) as client:
        seed_catalog(CatalogService(client.app.state.hub))  # type: ignore[attr-defined]
        token = _admin(client)
        # The seeded catalog has no image behind it: compatibility cannot be checked.
        response = client.post("/apply/acme/add-header", data={
            "version": "1.0.0", "action": "apply", "platform": "istio", "namespace": NS,
            "selector": "app=web", "cfg/header": "x-a", "csrf_token": token})
        assert response.status_code == 422
        assert "compatibility: the module could not be inspected" in html_lib.unescape(
            response.text)
        assert provider_for("istio").status(cluster, NS) == []
