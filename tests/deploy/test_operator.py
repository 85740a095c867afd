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
        "ConfigValid", "Compatible", "Trusted", "Applied", "Ready"}
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


def _push_variant(published: PublishedHub, tag: str, marker: bytes) -> str:
    """Push the add-header module, made distinct by a custom section, as ``tag``: a new
    manifest digest for the same plugin (moving the tag when it exists)."""
    from tests.support.servers import REPO_ROOT
    from wasmhub.client.registry import RegistryClient
    from wasmhub.wasm import PluginFiles, load_plugin_yaml, pack

    name = b"wasmhub-test"
    payload = bytes([len(name)]) + name + marker
    module = published.module + b"\x00" + bytes([len(payload)]) + payload  # custom section
    plugin_yaml = (REPO_ROOT / "examples" / "add-header" / "plugin.yaml").read_bytes()
    root_id = load_plugin_yaml(plugin_yaml).spec.root_id
    image = pack(module, metadata=PluginFiles(plugin_yaml=plugin_yaml, readme={}, icon=None),
                 root_ids=(root_id,) if root_id else ())
    repository = published.ref.split("/", 1)[1].rsplit(":", 1)[0]
    with RegistryClient(published.server.host) as client:
        for blob in image.blobs():
            client.upload_blob(repository, blob.data, blob.digest)
        return client.put_manifest(repository, tag, image.manifest, image.manifest_media_type)


def test_follow_tag_moves_with_the_tag_and_pinned_stays(
    api: Api, published_hub: PublishedHub, operator: Operator
) -> None:
    tag = "0.1.0-follow"  # its own tag: the module's other tests keep 0.1.0 where it is
    first = _push_variant(published_hub, tag, b"first")
    ref = published_hub.ref.rsplit(":", 1)[0] + ":" + tag
    pd_type = (PLUGIN_DEPLOYMENT.api_version, "PluginDeployment", "plugindeployments")
    for name, policy in (("follows", "follow-tag"), ("stays", "pinned")):
        doc = _pd(published_hub, name, updatePolicy=policy)
        doc["spec"]["plugin"] = {"ref": ref}
        api.cluster.apply_one(PLUGIN_DEPLOYMENT, doc, dry_run=False)

    def status(name: str) -> dict[str, Any]:
        return dict(((_get(api, pd_type, name) or {}).get("status")) or {})

    def sha(name: str) -> str | None:
        plugin = _get(api, WASMPLUGIN, name)
        return None if plugin is None else str(plugin["spec"].get("sha256"))

    for name in ("follows", "stays"):
        _wait(f"{name} to be applied at the first digest",
              lambda n=name: status(n).get("resolvedDigest") == first
              and sha(n) == first.removeprefix("sha256:"))

    second = _push_variant(published_hub, tag, b"second")
    assert second != first
    _wait("follows to be re-applied at the moved tag's digest",
          lambda: sha("follows") == second.removeprefix("sha256:")
          and status("follows").get("resolvedDigest") == second)
    ready = {c["type"]: c["status"] for c in status("follows")["conditions"]}
    assert ready["Ready"] == "True" and ready["Applied"] == "True"

    # The pinned one is reconciled again after the move (a later status write), and
    # still runs — and records — the digest it was first resolved to.
    before = max(c["lastTransitionTime"] for c in status("stays")["conditions"])
    _wait("stays to be reconciled after the move", lambda: max(
        c["lastTransitionTime"] for c in status("stays")["conditions"]) > before)
    assert sha("stays") == first.removeprefix("sha256:")
    assert status("stays")["resolvedDigest"] == first
    for name in ("follows", "stays"):
        api.cluster.delete(PLUGIN_DEPLOYMENT, name, NS)
        _wait(f"{name} to go", lambda n=name: _get(api, pd_type, n) is None)
