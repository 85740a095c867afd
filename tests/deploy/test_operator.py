"""The operator reconciles PluginDeployments against the Kubernetes API (the in-process
fake, or a real cluster with ``WASMHUB_TEST_KUBECONFIG``) and a running hub: status
conditions and the pinned digest, owner references, refusal of a bad config, and removal
of what it created when the PluginDeployment is deleted (finalizer)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wasmhub.deploy.operator import FINALIZER, PLUGIN_DEPLOYMENT, Operator, Reconciler
from wasmhub.deploy.spec import parse_deployment, to_document

from .conftest import NS, Api, PublishedHub

WASMPLUGIN = ("extensions.istio.io/v1alpha1", "WasmPlugin", "wasmplugins")


def _wait(what: str, probe: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def operator(api: Api, published_hub: PublishedHub) -> Iterator[Operator]:
    running = Operator(Reconciler(api.cluster), namespace=NS, resync_seconds=5)
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield running
    finally:
        stop.set()
        thread.join(timeout=30)


def _pd(published: PublishedHub, name: str, **spec: Any) -> dict[str, Any]:
    fields = {"name": name, "namespace": NS, "platform": "istio",
              "plugin": {"ref": published.ref}, "targets": {"selector": {"app": "web"}},
              **spec}
    return to_document(parse_deployment(fields))


def _get(api: Api, kind: tuple[str, str, str], name: str) -> dict[str, Any] | None:
    from wasmhub.deploy.kube import ResourceType

    return api.cluster.get(ResourceType(*kind), name, NS)


def test_reconcile_ready_pinned_owned_then_cleaned_up(
    api: Api, published_hub: PublishedHub, operator: Operator
) -> None:
    api.cluster.apply_one(PLUGIN_DEPLOYMENT, _pd(published_hub, "hello"), dry_run=False)

    def ready() -> dict[str, Any] | None:
        obj = _get(api, (PLUGIN_DEPLOYMENT.api_version, "PluginDeployment",
                         "plugindeployments"), "hello")
        conditions = {c["type"]: c for c in ((obj or {}).get("status") or {}).get(
            "conditions", [])}
        return obj if conditions.get("Ready", {}).get("status") == "True" else None

    obj = _wait("PluginDeployment hello to be Ready", ready)
    status = obj["status"]
    assert status["resolvedDigest"] == published_hub.manifest_digest
    assert {c["type"] for c in status["conditions"]} == {
        "ConfigValid", "Compatible", "Applied", "Ready"}
    assert status["resources"] == ["WasmPlugin/hello"]
    assert FINALIZER in obj["metadata"]["finalizers"]
    plugin = _get(api, WASMPLUGIN, "hello")
    assert plugin is not None
    assert plugin["spec"]["sha256"] == published_hub.manifest_digest.removeprefix("sha256:")
    [owner] = plugin["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "PluginDeployment", "hello", obj["metadata"]["uid"])

    api.cluster.delete(PLUGIN_DEPLOYMENT, "hello", NS)
    _wait("the WasmPlugin to be removed", lambda: _get(api, WASMPLUGIN, "hello") is None)
    _wait("the PluginDeployment to go", lambda: _get(
        api, (PLUGIN_DEPLOYMENT.api_version, "PluginDeployment", "plugindeployments"),
        "hello") is None)


def test_bad_config_is_reported_not_applied(
    api: Api, published_hub: PublishedHub, operator: Operator
) -> None:
    doc = _pd(published_hub, "broken", config={"request_headers_to_add": 5})
    api.cluster.apply_one(PLUGIN_DEPLOYMENT, doc, dry_run=False)

    def reported() -> dict[str, Any] | None:
        obj = _get(api, (PLUGIN_DEPLOYMENT.api_version, "PluginDeployment",
                         "plugindeployments"), "broken")
        conditions = {c["type"]: c for c in ((obj or {}).get("status") or {}).get(
            "conditions", [])}
        return conditions if "ConfigValid" in conditions else None

    conditions = _wait("a status on PluginDeployment broken", reported)
    assert conditions["ConfigValid"]["status"] == "False"
    assert "config.request_headers_to_add" in conditions["ConfigValid"]["message"]
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Applied"]["status"] == "False"
    assert _get(api, WASMPLUGIN, "broken") is None
    api.cluster.delete(PLUGIN_DEPLOYMENT, "broken", NS)
    _wait("the PluginDeployment to go", lambda: _get(
        api, (PLUGIN_DEPLOYMENT.api_version, "PluginDeployment", "plugindeployments"),
        "broken") is None)
