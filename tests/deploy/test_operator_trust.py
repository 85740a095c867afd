"""The operator refuses what the namespace's trust policy refuses, with the gate
``wasmhub deploy`` uses: a hub (both database backends) whose namespace acme trusts the key
"release" under ``required-for-deploy``, the Kubernetes API (the in-process fake, or a real
cluster with ``WASMHUB_TEST_KUBECONFIG``) and :class:`Reconciler` passes on
PluginDeployments. A refusal is a ``Trusted=False`` / ``Ready=False`` condition naming the
plugin and why, and nothing is written to the platform: a follow-tag deployment whose tag
moves to an unsigned digest keeps the last trusted digest deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.helpers import run
from tests.signing import tamper
from tests.signing.conftest import (
    Published,
    ServedHub,
    acme_policy_with_one_signed_plugin,
    admin,
    generate_key,
    isolated,
    publish,
    served,
    sign,
)
from wasmhub.client.registry import RegistryClient
from wasmhub.deploy.kube import ResourceType
from wasmhub.deploy.operator import PLUGIN_DEPLOYMENT, Reconciler
from wasmhub.deploy.spec import parse_deployment, to_document

from .conftest import NS, Api

__all__ = ["isolated", "served"]  # fixtures

WASMPLUGIN = ResourceType("extensions.istio.io/v1alpha1", "WasmPlugin", "wasmplugins")
ACME = "required-for-deploy trust policy of namespace 'acme'"


def _deploy(api: Api, name: str, ref: str, **spec: Any) -> None:
    fields = {"name": name, "namespace": NS, "platform": "istio", "plugin": {"ref": ref},
              "targets": {"selector": {"app": "web"}}, **spec}
    api.cluster.apply_one(PLUGIN_DEPLOYMENT, to_document(parse_deployment(fields)),
                          dry_run=False)


def _reconcile(api: Api, name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One pass on the stored PluginDeployment: (status, conditions by type)."""
    obj = api.cluster.get(PLUGIN_DEPLOYMENT, name, NS)
    assert obj is not None
    status = Reconciler(api.cluster).reconcile(obj)
    assert status is not None
    stored = (api.cluster.get(PLUGIN_DEPLOYMENT, name, NS) or {}).get("status") or {}
    assert stored.get("conditions") == status["conditions"]
    return stored, {c["type"]: c for c in status["conditions"]}


def _platform_writes(api: Api) -> list[str]:
    return [r for r in api.fake.requests if r.startswith("PATCH wasmplugins")] \
        if api.fake else []


def _sha(plugin: dict[str, Any] | None) -> str:
    assert plugin is not None
    return str(plugin["spec"]["sha256"])


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def test_unsigned_is_refused_and_nothing_applied_signed_is_applied(
        api: Api, served: ServedHub, tmp_path: Path) -> None:
    unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path,
                                                          "required-for-deploy")
    _deploy(api, "unsigned", unsigned.ref)
    status, conditions = _reconcile(api, "unsigned")
    trusted = conditions["Trusted"]
    assert (trusted["status"], trusted["reason"]) == ("False", "Untrusted")
    assert ACME in trusted["message"] and "has no signature" in trusted["message"]
    assert unsigned.digest in trusted["message"]
    ready = conditions["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Untrusted")
    assert ready["message"] == trusted["message"]
    assert (conditions["Applied"]["status"], conditions["Applied"]["reason"]) == \
        ("False", "Untrusted")
    assert "resolvedDigest" not in status and status["resources"] == []
    assert api.cluster.get(WASMPLUGIN, "unsigned", NS) is None
    assert _platform_writes(api) == []  # not even a dry run

    _deploy(api, "signed", signed.ref)
    status, conditions = _reconcile(api, "signed")
    assert conditions["Ready"]["status"] == "True", conditions
    assert conditions["Trusted"]["reason"] == "Verified"
    assert "signed by acme/release" in conditions["Trusted"]["message"]
    assert status["resolvedDigest"] == signed.digest
    assert _sha(api.cluster.get(WASMPLUGIN, "signed", NS)) == _hex(signed.digest)

    # A namespace whose policy is optional deploys unsigned plugins as before.
    elsewhere = publish(served.host, tmp_path, namespace="other")
    _deploy(api, "elsewhere", elsewhere.ref)
    _, conditions = _reconcile(api, "elsewhere")
    assert conditions["Ready"]["status"] == "True", conditions
    assert conditions["Trusted"]["reason"] == "NotRequired"
    assert "optional trust policy of namespace 'other'" in conditions["Trusted"]["message"]


def test_untrusted_key_and_signature_over_another_digest_are_refused(
        api: Api, served: ServedHub, tmp_path: Path) -> None:
    _unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path,
                                                           "required-for-deploy")
    generate_key("stranger")  # a key acme never registered
    by_stranger = publish(served.host, tmp_path)
    sign(by_stranger.ref, "stranger")
    _deploy(api, "stranger", by_stranger.ref)
    _, conditions = _reconcile(api, "stranger")
    assert conditions["Trusted"]["reason"] == "Untrusted"
    assert ACME in conditions["Trusted"]["message"]
    assert "does not verify with the key acme/release" in conditions["Trusted"]["message"]
    assert by_stranger.digest in conditions["Trusted"]["message"]
    assert api.cluster.get(WASMPLUGIN, "stranger", NS) is None

    # The signed plugin's signature, copied to name another of its digests.
    other = publish(served.host, tmp_path, name=signed.repository.split("/")[1],
                    tag="2.0.0", marker="another module")
    with RegistryClient(served.host) as client:
        tamper.copy_cosign_tag(client, signed.repository, signed.digest, other.digest)
    _deploy(api, "copied", other.ref)
    _, conditions = _reconcile(api, "copied")
    message = conditions["Trusted"]["message"]
    assert conditions["Trusted"]["reason"] == "Untrusted"
    assert f"it signs {signed.digest}, not {other.digest}" in message
    assert api.cluster.get(WASMPLUGIN, "copied", NS) is None
    assert _platform_writes(api) == []


def _move_tag(served: ServedHub, tmp_path: Path, plugin: Published, marker: str) -> Published:
    moved = publish(served.host, tmp_path, name=plugin.repository.split("/")[1],
                    tag=plugin.ref.rsplit(":", 1)[1], marker=marker)
    assert moved.digest != plugin.digest
    return moved


def test_follow_tag_moved_to_an_unsigned_digest_keeps_the_trusted_one(
        api: Api, served: ServedHub, tmp_path: Path) -> None:
    _unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path,
                                                           "required-for-deploy")
    _deploy(api, "follow", signed.ref, updatePolicy="follow-tag")
    status, conditions = _reconcile(api, "follow")
    assert conditions["Ready"]["status"] == "True", conditions
    assert _sha(api.cluster.get(WASMPLUGIN, "follow", NS)) == _hex(signed.digest)
    writes = len(_platform_writes(api))

    moved = _move_tag(served, tmp_path, signed, "pushed without a signature")
    status, conditions = _reconcile(api, "follow")
    trusted = conditions["Trusted"]
    assert (trusted["status"], trusted["reason"]) == ("False", "Untrusted")
    assert moved.digest in trusted["message"] and "has no signature" in trusted["message"]
    assert conditions["Ready"]["status"] == "False"
    # The previous, trusted digest stays deployed and recorded.
    assert status["resolvedDigest"] == signed.digest
    assert status["resources"] == ["WasmPlugin/follow"]
    assert _sha(api.cluster.get(WASMPLUGIN, "follow", NS)) == _hex(signed.digest)
    assert len(_platform_writes(api)) == writes

    sign(moved.ref, "release")  # now signed: the next pass follows the tag
    status, conditions = _reconcile(api, "follow")
    assert conditions["Ready"]["status"] == "True", conditions
    assert status["resolvedDigest"] == moved.digest
    assert _sha(api.cluster.get(WASMPLUGIN, "follow", NS)) == _hex(moved.digest)


def test_pinned_deployment_whose_key_is_revoked_is_reported_not_changed(
        api: Api, served: ServedHub, tmp_path: Path) -> None:
    _unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path,
                                                           "required-for-deploy")
    _deploy(api, "pinned", signed.ref)
    _, conditions = _reconcile(api, "pinned")
    assert conditions["Ready"]["status"] == "True", conditions
    writes = len(_platform_writes(api))
    admin(served, "key", "revoke", "acme", "release", "--reason", "laptop stolen")
    status, conditions = _reconcile(api, "pinned")
    message = conditions["Trusted"]["message"]
    assert conditions["Trusted"]["reason"] == "Untrusted"
    assert "was revoked on" in message and "laptop stolen" in message
    assert conditions["Ready"]["status"] == "False"
    assert status["resolvedDigest"] == signed.digest
    assert _sha(api.cluster.get(WASMPLUGIN, "pinned", NS)) == _hex(signed.digest)
    assert len(_platform_writes(api)) == writes
    # wasmhub deploy says the same (one gate).
    refused = run("deploy", "istio", signed.by_digest, "-l", "app=web")
    assert refused.exception is not None and "laptop stolen" in str(refused.exception)


def test_required_for_pull_also_gates_the_operator(
        api: Api, served: ServedHub, tmp_path: Path) -> None:
    mode = "required-for-pull"
    unsigned, _signed = acme_policy_with_one_signed_plugin(served, tmp_path, mode)
    _deploy(api, "strict", unsigned.ref)
    _, conditions = _reconcile(api, "strict")
    assert conditions["Trusted"]["reason"] == "Untrusted"
    assert f"{mode} trust policy of namespace 'acme'" in conditions["Trusted"]["message"]
    assert api.cluster.get(WASMPLUGIN, "strict", NS) is None
