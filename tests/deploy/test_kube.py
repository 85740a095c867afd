"""apply / undeploy / status against a Kubernetes API: the in-process fake
(tests/deploy/fake_kube.py, validating every object against the CRD schemas) or, with
``WASMHUB_TEST_KUBECONFIG``, a real cluster with the platforms' CRDs installed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.servers import serving_in_thread
from wasmhub.deploy import provider_for, render
from wasmhub.deploy.errors import ClusterError, MissingResourceType, TagMoved
from wasmhub.deploy.kube import Cluster
from wasmhub.deploy.resolve import ensure_unmoved, resolve

from .cases import deployment
from .conftest import NS, REAL, Api, PublishedHub
from .fake_kube import FakeKube, kubeconfig_for, vendored_types


def _istio(name: str = "add-header", **fields: object) -> object:
    return deployment("istio", name=name, namespace=NS,
                      targets={"selector": {"app": "web"}}, phase="AUTHN", priority=50,
                      **fields)


def test_apply_status_undeploy(api: Api) -> None:
    provider = provider_for("istio")
    rendering = render(_istio())
    assert provider.apply(rendering, api.cluster) == ["WasmPlugin/add-header"]
    # Applying again is idempotent (server-side apply, same field manager).
    assert provider.apply(rendering, api.cluster) == ["WasmPlugin/add-header"]
    [found] = [i for i in provider.status(api.cluster, NS) if i.name == "add-header"]
    assert found.managed and found.phase == "AUTHN" and found.priority == 50
    assert found.digest == "1" * 64 and found.plugin.startswith("oci://")
    assert found.targets == ("selector app=web",)
    if api.fake is not None:
        assert found.workloads == ("web-1", "web-2")  # pods the selector matches
        assert any(i.name == "add-header" for i in provider.status(api.cluster, None))
    assert provider.remove("add-header", NS, api.cluster) == ["WasmPlugin/add-header"]
    assert provider.remove("add-header", NS, api.cluster) == []
    assert all(i.name != "add-header" for i in provider.status(api.cluster, NS))


def test_dry_run_stores_nothing(api: Api) -> None:
    provider = provider_for("envoy-gateway")
    d = deployment("envoy-gateway", name="dry", namespace=NS,
                   targets={"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]})
    assert provider.apply(render(d), api.cluster, dry_run=True) == ["EnvoyExtensionPolicy/dry"]
    assert all(i.name != "dry" for i in provider.status(api.cluster, NS))


@pytest.mark.skipif(bool(REAL), reason="injects a server-side failure into the fake")
def test_all_or_none_rolls_back(api: Api) -> None:
    assert api.fake is not None
    provider = provider_for("consul")
    d = deployment("consul", name="both", namespace=NS, targets={"services": ["web", "api"]})
    api.fake.fail_apply.add("api")  # the second resource fails on the real apply
    with pytest.raises(ClusterError, match="injected failure"):
        provider.apply(render(d), api.cluster)
    assert api.fake.objects == {}  # the first one was rolled back
    assert "PATCH servicedefaults/web dryRun" in api.fake.requests  # dry runs came first


@pytest.mark.skipif(bool(REAL), reason="the fake lacks a CRD on purpose")
def test_missing_crd_refuses_before_writing(tmp_path: Path) -> None:
    fake = FakeKube([t for t in vendored_types() if t.kind != "EnvoyExtensionPolicy"])
    with serving_in_thread(fake.app(), "fake-kube") as url:
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_for(url)))
        cluster = Cluster.connect(path)
        d = deployment("envoy-gateway", namespace=NS,
                       targets={"targetRefs": [{"kind": "HTTPRoute", "name": "r"}]})
        with pytest.raises(MissingResourceType, match="no EnvoyExtensionPolicy"):
            provider_for("envoy-gateway").apply(render(d), cluster)
    assert fake.objects == {}
    assert not any(r.startswith("PATCH") for r in fake.requests)


@pytest.mark.skipif(bool(REAL), reason="writes an invalid object on purpose")
def test_the_server_validates_against_the_crd(api: Api) -> None:
    from wasmhub.deploy.kube import ResourceType

    rtype = ResourceType("extensions.istio.io/v1alpha1", "WasmPlugin", "wasmplugins")
    doc = render(_istio()).resources[0].document
    doc["spec"]["targetRefs"] = [{"kind": "Gateway", "name": "g"}]  # with selector: CEL says no
    with pytest.raises(ClusterError, match="violates rule"):
        api.cluster.apply_all([(rtype, doc)])
    assert api.fake is not None and api.fake.objects == {}


def test_tag_moved_is_refused(published_hub: PublishedHub) -> None:
    resolved = resolve(published_hub.ref, fetch_module=False)
    ensure_unmoved(resolved.ref)  # unchanged: fine
    stale = resolved.ref.model_copy(update={"digest": "sha256:" + "9" * 64})
    with pytest.raises(TagMoved, match="moved from sha256:9999"):
        ensure_unmoved(stale)


def test_cli_apply_status_undeploy(api: Api, published_hub: PublishedHub, tmp_path: Path
                                   ) -> None:
    import json

    from .test_cli import run

    config = ["--kubeconfig", REAL or str(tmp_path / "kubeconfig")]
    done = run("deploy", "istio", published_hub.ref, "-n", NS, "--selector", "app=web",
               "--apply", *config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "applied WasmPlugin/add-header" in done.stderr
    status = run("status", "-A", "--json", *config, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    [row] = [r for r in json.loads(status.stdout) if r["name"] == "add-header"]
    assert row["digest"] == published_hub.manifest_digest.removeprefix("sha256:")
    assert row["namespace"] == NS and row["managed"] is True
    if not REAL:
        assert row["workloads"] == ["web-1", "web-2"]
    table = run("status", "-n", NS, *config, cwd=tmp_path).stdout
    assert f"oci://{published_hub.ref}" in table  # whole, never truncated
    assert REAL or "web-1, web-2" in table
    gone = run("undeploy", "istio", "add-header", "-n", NS, *config, cwd=tmp_path)
    assert gone.returncode == 0 and "removed WasmPlugin/add-header" in gone.stdout
    again = run("undeploy", "istio", "add-header", "-n", NS, *config, cwd=tmp_path)
    assert again.returncode == 1 and "nothing to remove" in again.stderr
