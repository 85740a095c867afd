"""Every bad input of issue 14, refused through the CLI and the deploy path, reason named.

Each case signs with the cosign tag only (or the referrer only), tampers with what the
registry holds, and checks ``wasmhub verify`` exits 1 naming why and ``ensure_trusted``
(a required-for-deploy policy) refuses it. Expired and revoked keys are in
test_trust_hub.py (they are the hub's keys).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.signing import tamper
from tests.signing.conftest import ServedHub, generate_key, publish, sign
from wasmhub.client.registry import RegistryClient
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import UntrustedPlugin
from wasmhub.signing.keystore import KeyStore
from wasmhub.signing.policy import Policy, Purpose, TrustMode, ensure_trusted
from wasmhub.signing.remote import ClientReader
from wasmhub.signing.verify import TrustedKey


def _deploy_gate_refuses(ref: str, keys: tuple[str, ...]) -> str:
    """The deploy path (``ensure_trusted``, required-for-deploy) refuses it too."""
    reference = Reference.parse(ref)
    store = KeyStore()
    trusted = [TrustedKey(store.resolve_public(k), k, "acme") for k in keys]
    policy = Policy("acme", TrustMode.REQUIRED_FOR_DEPLOY, "namespace")
    with RegistryClient(reference.registry) as client:
        digest = reference.digest
        if digest is None:
            descriptor = client.head_manifest(reference.repository, reference.reference)
            assert descriptor is not None
            digest = descriptor.digest
        with pytest.raises(UntrustedPlugin) as refused:
            ensure_trusted(reference, digest, policy, trusted, ClientReader(client),
                           Purpose.DEPLOY)
    return refused.value.message


def _refused(ref: str, *keys: str) -> str:
    """Why ``wasmhub verify`` refuses it (exit 1); the deploy gate must refuse it as well."""
    args = [a for k in keys for a in ("--key", k)]
    result = run("verify", ref, *args)
    assert result.exit_code == 1, result.stdout + result.stderr
    message = one_line_error(result)
    deploy = _deploy_gate_refuses(ref, keys)
    assert "required-for-deploy trust policy of namespace 'acme'" in deploy
    return message


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


def test_changed_layer(signed: tuple[ServedHub, Any]) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        new = tamper.retag_with_changed_manifest(
            client, plugin.repository, "1.0.0",
            lambda m: _repack_layer(client, plugin.repository, m))
        assert new != plugin.digest
        assert "has no signature" in _refused(plugin.ref, "k")
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, new)
    message = _refused(plugin.ref, "k")
    assert f"it signs {plugin.digest}, not {new}" in message


def test_changed_manifest(signed: tuple[ServedHub, Any]) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        new = tamper.retag_with_changed_manifest(
            client, plugin.repository, "1.0.0",
            lambda m: m.setdefault("annotations", {}).update({"x": "evil"}))
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, new)
    assert f"it signs {plugin.digest}, not {new}" in _refused(plugin.ref, "k")


def test_signature_over_another_digest(signed: tuple[ServedHub, Any], tmp_path: Path) -> None:
    served, plugin = signed
    other = publish(served.host, tmp_path, name=plugin.repository.split("/")[1], tag="2.0.0",
                    marker="another module")
    with RegistryClient(served.host) as client:
        tamper.copy_cosign_tag(client, plugin.repository, plugin.digest, other.digest)
    message = _refused(other.ref, "k")
    assert f"it signs {plugin.digest}, not {other.digest}" in message
    assert "another manifest" in message


def test_wrong_key(signed: tuple[ServedHub, Any]) -> None:
    _served, plugin = signed
    generate_key("stranger")
    message = _refused(plugin.ref, "stranger")
    assert "does not verify with the key stranger" in message


@pytest.mark.parametrize(("change", "reason"), [
    (tamper.truncate_signature, "truncated or not an ASN.1 DER ECDSA signature"),
    (tamper.non_base64_signature, "not base64"),
    (tamper.changed_payload_claims, "does not verify with the key k"),
])
def test_bad_signature_annotation_or_payload(signed: tuple[ServedHub, Any], change: Any,
                                             reason: str) -> None:
    served, plugin = signed
    with RegistryClient(served.host) as client:
        tamper.rewrite_cosign_layer(client, plugin.repository, plugin.digest, change)
    assert reason in _refused(plugin.ref, "k")


def test_docker_reference_naming_another_repository(signed: tuple[ServedHub, Any]) -> None:
    served, plugin = signed
    copy = f"{served.host}/acme/copied-elsewhere"
    for tag in ("1.0.0", tamper.sig_tag(plugin.digest)):  # image and signature, verbatim
        result = run("tag", f"{served.host}/{plugin.repository}:{tag}", f"{copy}:{tag}")
        assert result.exit_code == 0, result.stderr
    message = _refused(f"{copy}:1.0.0", "k")
    assert f"docker-reference is '{served.host}/{plugin.repository}'" in message
    assert "another repository" in message


def test_referrer_with_bad_signature(served: ServedHub, tmp_path: Path) -> None:
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
    assert "not base64" in _refused(plugin.ref, "k")


def test_referrer_pointing_at_a_missing_subject(served: ServedHub, tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    referrer = str(sign(plugin.ref, "k", "--referrer-only")["referrer"])
    missing = tamper.digest_of(b"a manifest that was never pushed")
    with RegistryClient(served.host) as client:
        doc = client.get_manifest(plugin.repository, referrer).json()
        doc["subject"]["digest"] = missing
        client.put_manifest(plugin.repository, tamper.digest_of(tamper.dumps(doc)),
                            tamper.dumps(doc), tamper.OCI_MANIFEST)
    message = _refused(f"{served.host}/{plugin.repository}@{missing}", "k")
    assert f"{plugin.repository}@{missing} does not exist" in message
    assert "point at a missing subject" in message
