"""Every bad input of issue 14, refused through the CLI and the deploy path, reason named.

Each case signs with the cosign tag only (or the referrer only), tampers with what the
registry holds, and checks (:class:`Paths`) that ``wasmhub verify`` exits 1 naming why,
and that under acme's required-for-deploy policy ``wasmhub deploy`` writes nothing and an
operator pass (the in-process Kubernetes API) applies nothing, both naming the same reason.
Expired and revoked keys are in test_trust_hub.py and tests/deploy/test_operator_trust.py
(they are the hub's keys).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.deploy.conftest import NS, Api, api
from tests.signing import tamper
from tests.signing.conftest import ServedHub, admin, generate_key, publish, sign
from wasmhub.client.registry import RegistryClient
from wasmhub.deploy.kube import ResourceType
from wasmhub.deploy.operator import PLUGIN_DEPLOYMENT, Reconciler
from wasmhub.deploy.spec import parse_deployment, to_document
from wasmhub.errors import NotFoundError
from wasmhub.signing.errors import UntrustedPlugin
from wasmhub.signing.keystore import KeyStore

__all__ = ["api"]  # fixture
WASMPLUGIN = ResourceType("extensions.istio.io/v1alpha1", "WasmPlugin", "wasmplugins")
ACME = "required-for-deploy trust policy of namespace 'acme'"


@dataclass
class Paths:
    """The three ways a tampered plugin is checked: ``wasmhub verify --key``, ``wasmhub
    deploy`` and an operator pass, both under acme's required-for-deploy policy whose
    trusted keys are the ones given (registered in the hub on first use)."""

    served: ServedHub
    api: Api
    out: Path
    count: int = 0

    def refused(self, ref: str, *keys: str, resolvable: bool = True) -> list[str]:
        """[verify's message, deploy's, the operator's]; each asserted a refusal with
        nothing written. ``resolvable=False``: the hub's catalog has no such version, so
        the deploy paths refuse at resolving, before the trust gate."""
        registered = {k.name for k in self.served.trust.keys("acme")}
        for key in keys:
            if key not in registered:
                admin(self.served, "key", "add", "acme", str(KeyStore().get(key).public_path),
                      "--name", key)
        args = [a for k in keys for a in ("--key", k)]
        result = run("verify", ref, *args)
        assert result.exit_code == 1, result.stdout + result.stderr
        messages = [one_line_error(result)]
        self.count += 1
        out = self.out / f"deploy-{self.count}"
        deployed = run("deploy", "istio", ref, "-l", "app=web", "-o", str(out))
        error = deployed.exception
        assert isinstance(error, UntrustedPlugin if resolvable else NotFoundError), \
            deployed.stdout + deployed.stderr
        assert not out.exists()  # nothing written
        messages.append(error.message)
        name = f"tampered-{self.count}"
        self.api.cluster.apply_one(PLUGIN_DEPLOYMENT, to_document(parse_deployment({
            "name": name, "namespace": NS, "platform": "istio", "plugin": {"ref": ref},
            "targets": {"selector": {"app": "web"}}})), dry_run=False)
        obj = self.api.cluster.get(PLUGIN_DEPLOYMENT, name, NS)
        assert obj is not None
        status = Reconciler(self.api.cluster).reconcile(obj) or {}
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Ready"]["status"] == "False"
        if resolvable:
            assert conditions["Trusted"]["reason"] == "Untrusted"
            assert conditions["Trusted"]["message"] == messages[1]  # the same gate
            assert ACME in messages[1]
        else:
            assert conditions["ConfigValid"]["reason"] == "RenderFailed"
            assert error.message in conditions["ConfigValid"]["message"]
        assert self.api.cluster.get(WASMPLUGIN, name, NS) is None
        messages.append(str(conditions["Ready"]["message"]))
        return messages


@pytest.fixture
def paths(served: ServedHub, api: Api, tmp_path: Path) -> Paths:
    admin(served, "policy", "set", "required-for-deploy", "--namespace", "acme")
    return Paths(served, api, tmp_path / "deployed")


@pytest.fixture
def signed(served: ServedHub, tmp_path: Path) -> tuple[ServedHub, Any]:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    sign(plugin.ref, "k", "--tag-only")
    assert run("verify", plugin.ref, "--key", "k").exit_code == 0
    return served, plugin


def _repack_layer(client: RegistryClient, repository: str, manifest: dict[str, Any]) -> None:
    """Replace plugin.wasm in the last (tar+gzip) layer with other bytes."""
    layer = manifest["layers"][-1]
    data = client.fetch_blob(repository, layer["digest"])
    members = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            members[member.name] = handle.read() if handle else b""
    members["plugin.wasm"] = proxy_wasm_module("the attacker's module")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    blob = gzip.compress(buffer.getvalue())
    client.upload_blob(repository, blob)
    layer.update(digest=tamper.digest_of(blob), size=len(blob))


def test_changed_layer(signed: tuple[ServedHub, Any], paths: Paths) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        new = tamper.retag_with_changed_manifest(
            client, plugin.repository, "1.0.0",
            lambda m: _repack_layer(client, plugin.repository, m))
        assert new != plugin.digest
        for message in paths.refused(plugin.ref, "k"):
            assert "has no signature" in message and new in message
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, new)
    for message in paths.refused(plugin.ref, "k"):
        assert f"it signs {plugin.digest}, not {new}" in message


def test_changed_manifest(signed: tuple[ServedHub, Any], paths: Paths) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        new = tamper.retag_with_changed_manifest(
            client, plugin.repository, "1.0.0",
            lambda m: m.setdefault("annotations", {}).update({"x": "evil"}))
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, new)
    for message in paths.refused(plugin.ref, "k"):
        assert f"it signs {plugin.digest}, not {new}" in message


def test_signature_over_another_digest(signed: tuple[ServedHub, Any], tmp_path: Path,
                                       paths: Paths) -> None:
    served, plugin = signed
    other = publish(served.host, tmp_path, name=plugin.repository.split("/")[1], tag="2.0.0",
                    marker="another module")
    with RegistryClient(served.host) as client:
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, other.digest)
    for message in paths.refused(other.ref, "k"):
        assert f"it signs {plugin.digest}, not {other.digest}" in message
        assert "another manifest" in message


def test_wrong_key(signed: tuple[ServedHub, Any], paths: Paths) -> None:
    _served, plugin = signed
    generate_key("stranger")
    cli, *deploy = paths.refused(plugin.ref, "stranger")  # the hub trusts stranger only
    assert "does not verify with the key stranger" in cli
    for message in deploy:
        assert "does not verify with the key acme/stranger" in message


@pytest.mark.parametrize(("change", "reason"), [
    (tamper.truncate_signature, "truncated or not an ASN.1 DER ECDSA signature"),
    (tamper.non_base64_signature, "not base64"),
    (tamper.changed_payload_claims, "does not verify with the key"),
])
def test_bad_signature_annotation_or_payload(signed: tuple[ServedHub, Any], change: Any,
                                             reason: str, paths: Paths) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        tamper.rewrite_cosign_layer(client, plugin.repository, plugin.digest, change)
    for message in paths.refused(plugin.ref, "k"):
        assert reason in message


def test_docker_reference_naming_another_repository(signed: tuple[ServedHub, Any],
                                                     paths: Paths) -> None:
    served, plugin = signed
    copy = f"{served.host}/acme/copied-elsewhere"
    for tag in ("1.0.0", tamper.sig_tag(plugin.digest)):  # image and signature, verbatim
        result = run("tag", f"{served.host}/{plugin.repository}:{tag}", f"{copy}:{tag}")
        assert result.exit_code == 0, result.stderr
    cli, *deploy = paths.refused(f"{copy}:1.0.0", "k")
    for message in (cli, *deploy):
        assert f"docker-reference is '{served.host}/{plugin.repository}'" in message
    assert "another repository" in cli
    for message in deploy:  # the gate checks the repository, not the registry host
        assert f"names repository '{plugin.repository}', not 'acme/copied-elsewhere'" \
            in message


def test_referrer_with_bad_signature(served: ServedHub, tmp_path: Path, paths: Paths) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    referrer = str(sign(plugin.ref, "k", "--referrer-only")["referrer"])
    with RegistryClient(served.host) as client:
        doc = client.get_manifest(plugin.repository, referrer).json()
        doc["layers"][0]["annotations"][tamper.SIG_ANNOTATION] = "%%%"
        client.put_manifest(plugin.repository, tamper.digest_of(tamper.dumps(doc)),
                            tamper.dumps(doc), tamper.OCI_MANIFEST)
    # The original referrer still verifies; the forged one is listed as rejected.
    report = run_json("verify", plugin.ref, "--key", "k")
    assert [r["reason"] for r in report["rejected"]] == ["the signature annotation is not base64"]
    with RegistryClient(served.host) as client:
        client.delete_manifest(plugin.repository, referrer)
    for message in paths.refused(plugin.ref, "k"):
        assert "not base64" in message


def test_referrer_pointing_at_a_missing_subject(served: ServedHub, tmp_path: Path,
                                                paths: Paths) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    referrer = str(sign(plugin.ref, "k", "--referrer-only")["referrer"])
    missing = tamper.digest_of(b"a manifest that was never pushed")
    with RegistryClient(served.host) as client:
        doc = client.get_manifest(plugin.repository, referrer).json()
        doc["subject"]["digest"] = missing
        client.put_manifest(plugin.repository, tamper.digest_of(tamper.dumps(doc)),
                            tamper.dumps(doc), tamper.OCI_MANIFEST)
    cli, *deploy = paths.refused(f"{served.host}/{plugin.repository}@{missing}", "k",
                                 resolvable=False)
    assert f"{plugin.repository}@{missing} does not exist" in cli
    assert "point at a missing subject" in cli
    for message in deploy:  # the catalog has no such version: refused before the gate
        assert f"{plugin.repository} has no version with digest {missing}" in message
