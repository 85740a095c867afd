"""``wasmhub sign`` / ``verify`` / ``pull --verify`` against a served hub, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import one_line_error, run, run_json
from tests.signing.conftest import ServedHub, generate_key, publish, sign
from wasmhub.client.registry import RegistryClient
from wasmhub.signing.formats import SIGNATURE_ARTIFACT_TYPE, cosign_tag


def test_sign_writes_cosign_tag_and_referrer_and_verifies(served: ServedHub,
                                                          tmp_path: Path) -> None:
    generate_key("release")
    plugin = publish(served.host, tmp_path)
    signed = sign(plugin.ref, "release", "-a", "build=42")
    assert signed["digest"] == plugin.digest
    assert signed["cosign_tag"] == cosign_tag(plugin.digest)
    with RegistryClient(served.host) as client:
        tags = client.list_tags(plugin.repository)
        referrers = client.referrers(plugin.repository, plugin.digest)["manifests"]
    assert sorted(tags) == sorted(["1.0.0", cosign_tag(plugin.digest)])
    assert [r["digest"] for r in referrers] == [signed["referrer"]]
    assert referrers[0]["artifactType"] == SIGNATURE_ARTIFACT_TYPE

    report = run_json("verify", plugin.ref, "--key", "release")
    assert report["verified"] is True and report["digest"] == plugin.digest
    [signature] = report["signatures"]  # the same signature in both places counts once
    assert len(signature["sources"]) == 2
    assert {s.split(" ")[0] for s in signature["sources"]} == {"tag", "referrer"}
    assert signature["annotations"] == {"build": "42"}
    assert signature["docker_reference"] == f"{served.host}/{plugin.repository}"
    human = run("verify", plugin.ref, "--key", "release")
    assert human.exit_code == 0 and "1 valid signature" in human.stdout


def test_second_key_appends_a_layer_under_the_cosign_tag(served: ServedHub,
                                                         tmp_path: Path) -> None:
    generate_key("alice")
    generate_key("bob")
    plugin = publish(served.host, tmp_path)
    sign(plugin.ref, "alice")
    sign(plugin.ref, "bob")
    with RegistryClient(served.host) as client:
        manifest = client.get_manifest(plugin.repository, cosign_tag(plugin.digest)).json()
    assert len(manifest["layers"]) == 2
    report = run_json("verify", plugin.ref, "--key", "alice", "--key", "bob")
    assert sorted(s["key"] for s in report["signatures"]) == ["alice", "bob"]


def test_tag_only_and_referrer_only_are_each_verifiable(served: ServedHub,
                                                        tmp_path: Path) -> None:
    generate_key("k")
    tagged = publish(served.host, tmp_path)
    referred = publish(served.host, tmp_path)
    assert sign(tagged.ref, "k", "--tag-only")["referrer"] is None
    assert sign(referred.ref, "k", "--referrer-only")["cosign_tag"] is None
    by_tag = run_json("verify", tagged.ref, "--key", "k")["signatures"][0]["sources"]
    by_referrer = run_json("verify", referred.ref, "--key", "k")["signatures"][0]["sources"]
    assert by_tag[0].startswith("tag ") and len(by_tag) == 1
    assert by_referrer[0].startswith("referrer ") and len(by_referrer) == 1


def test_unsigned_plugin_fails_verification(served: ServedHub, tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    result = run("verify", plugin.ref, "--key", "k")
    assert result.exit_code == 1
    assert "has no signature" in one_line_error(result)
    as_json = run("verify", plugin.ref, "--key", "k", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["verified"] is False


def test_pull_verify_writes_only_verified_modules(served: ServedHub, tmp_path: Path) -> None:
    generate_key("k")
    generate_key("other")
    plugin = publish(served.host, tmp_path)
    sign(plugin.ref, "k")
    out = tmp_path / "out.wasm"
    refused = run("pull", plugin.ref, "--verify", "--key", "other", "-o", str(out))
    assert refused.exit_code == 1 and "does not verify" in one_line_error(refused)
    assert not out.exists()
    pulled = run_json("pull", plugin.ref, "--verify", "--key", "k", "-o", str(out))
    assert pulled["digest"] == plugin.digest and pulled["signed_by"] == ["k (" + run_json(
        "key", "list")["keys"][0]["key_id"] + ")"]
    assert out.read_bytes() == plugin.module


def test_failed_sign_writes_nothing(served: ServedHub, tmp_path: Path,
                                    monkeypatch: object) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    wrong = run("sign", plugin.ref, "--key", "k", env={"WASMHUB_KEY_PASSPHRASE": "not it!!"})
    assert wrong.exit_code == 1 and "wrong passphrase" in one_line_error(wrong)
    missing = run("sign", f"{served.host}/{plugin.repository}:9.9.9", "--key", "k")
    assert missing.exit_code == 1 and "nothing to sign" in one_line_error(missing)
    absent_key = run("sign", plugin.ref, "--key", "nope")
    assert absent_key.exit_code == 1 and "no key 'nope'" in one_line_error(absent_key)
    with RegistryClient(served.host) as client:
        assert client.list_tags(plugin.repository) == ["1.0.0"]
        assert client.referrers(plugin.repository, plugin.digest)["manifests"] == []


def test_verify_needs_keys(served: ServedHub, tmp_path: Path) -> None:
    plugin = publish(served.host, tmp_path)
    result = run("verify", plugin.ref)
    assert result.exit_code == 2 and "--key K" in one_line_error(result)
