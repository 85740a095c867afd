"""Trusted keys and policies in the hub: admin CLI, REST API, ``verify --org``, expired and
revoked keys, and the policy gate of ``pull``/``run`` and of the deploy path
(``ensure_trusted``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from tests.cli.helpers import one_line_error, run, run_json
from tests.signing.conftest import (
    ServedHub,
    acme_policy_with_one_signed_plugin,
    admin,
    generate_key,
    publish,
    sign,
)
from wasmhub.client.registry import RegistryClient
from wasmhub.oci.reference import Reference
from wasmhub.signing.errors import UntrustedPlugin
from wasmhub.signing.models import TrustKeyRow
from wasmhub.signing.policy import Policy, Purpose, TrustMode, ensure_trusted
from wasmhub.signing.remote import ClientReader


def test_admin_registers_keys_and_the_api_lists_them(served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("release")
    admin(served, "key", "add", "acme", str(public), "--name", "release")
    trust = httpx.get(f"{served.url}/api/v1/namespaces/acme/trust").json()
    assert trust["policy"] == {"namespace": "acme", "mode": "optional", "source": "built-in"}
    [key] = trust["keys"]
    assert key["name"] == "release" and key["status"] == "active"
    assert key["created_by"] == "ops@acme"
    assert key["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    listed = httpx.get(f"{served.url}/api/v1/namespaces/acme/keys").json()
    assert [k["fingerprint"] for k in listed] == [key["fingerprint"]]
    admin(served, "policy", "set", "required-for-deploy", "--default")
    admin(served, "policy", "set", "required-for-pull", "--namespace", "acme")
    assert httpx.get(f"{served.url}/api/v1/trust-policy").json()["mode"] == \
        "required-for-deploy"
    other = httpx.get(f"{served.url}/api/v1/namespaces/other/trust-policy").json()
    assert other == {"namespace": "other", "mode": "required-for-deploy", "source": "default"}
    assert httpx.get(f"{served.url}/api/v1/namespaces/acme/trust-policy").json()["mode"] == \
        "required-for-pull"
    actions = [(a["action"], a["actor"]) for a in served.trust.audit("acme")]
    assert actions == [("key.add", "ops@acme"), ("policy.set", "ops@acme")]
    bad = httpx.get(f"{served.url}/api/v1/namespaces/Not%20A%20Namespace/keys")
    assert bad.status_code == 422


def test_admin_refuses_bad_keys_and_duplicates(served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("k")
    admin(served, "key", "add", "acme", str(public), "--name", "k")
    settings = served.hub.settings
    env = {"WASMHUB_DATA_DIR": str(settings.data_dir),
           "WASMHUB_DATABASE_URL": settings.effective_database_url}
    again = run("trust", "key", "add", "acme", str(public), "--name", "k2", env=env)
    assert again.exit_code == 1 and "already has a key with this public key" in \
        one_line_error(again)
    private = public.with_suffix(".key")
    wrong = run("trust", "key", "add", "acme", str(private), "--name", "k3", env=env)
    assert wrong.exit_code == 1 and "is a private key" in one_line_error(wrong)
    mode = run("trust", "policy", "set", "sometimes", "--default", env=env)
    assert mode.exit_code == 1 and "unknown trust policy" in one_line_error(mode)
    assert [k.name for k in served.trust.keys("acme")] == ["k"]


def test_verify_org_uses_the_hubs_keys_and_refuses_revoked_and_expired(
        served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("release")
    admin(served, "key", "add", "acme", str(public), "--name", "release")
    plugin = publish(served.host, tmp_path)
    sign(plugin.ref, "release")
    report = run_json("verify", plugin.ref, "--org", "acme")
    assert [(s["key"], s["namespace"]) for s in report["signatures"]] == [("release", "acme")]
    assert run("verify", plugin.ref, "--org", "nobody").exit_code == 1

    with served.hub.database.session() as session:  # time passes: the key expires
        session.execute(update(TrustKeyRow).values(
            expires_at=datetime.now(UTC) - timedelta(days=1)))
    expired = run("verify", plugin.ref, "--org", "acme")
    assert expired.exit_code == 1
    assert "key acme/release" in one_line_error(expired)
    assert "expired on" in one_line_error(expired)
    deploy = Policy("acme", TrustMode.REQUIRED_FOR_DEPLOY, "namespace")
    with RegistryClient(served.host) as client, pytest.raises(UntrustedPlugin, match="expired"):
        ensure_trusted(Reference.parse(plugin.ref), plugin.digest, deploy,
                       served.trust.trusted_keys("acme"), ClientReader(client), Purpose.DEPLOY)
    admin(served, "policy", "set", "required-for-deploy", "--namespace", "acme")
    out = tmp_path / "deployed"
    refused = run("deploy", "istio", plugin.ref, "-l", "app=web", "-o", str(out))
    assert isinstance(refused.exception, UntrustedPlugin), refused.stdout + refused.stderr
    assert "key acme/release" in refused.exception.message
    assert "expired on" in refused.exception.message and not out.exists()

    with served.hub.database.session() as session:
        session.execute(update(TrustKeyRow).values(expires_at=None))
    admin(served, "key", "revoke", "acme", "release", "--reason", "laptop stolen")
    revoked = one_line_error(run("verify", plugin.ref, "--org", "acme"))
    assert "was revoked on" in revoked and "laptop stolen" in revoked
    with RegistryClient(served.host) as client, \
            pytest.raises(UntrustedPlugin, match=r"revoked on .*laptop stolen"):
        ensure_trusted(Reference.parse(plugin.ref), plugin.digest, deploy,
                       served.trust.trusted_keys("acme"), ClientReader(client), Purpose.DEPLOY)
    refused = run("deploy", "istio", plugin.ref, "-l", "app=web", "-o", str(out))
    assert isinstance(refused.exception, UntrustedPlugin), refused.stdout + refused.stderr
    assert "was revoked on" in refused.exception.message and not out.exists()
    keys = httpx.get(f"{served.url}/api/v1/namespaces/acme/keys").json()
    assert keys[0]["status"] == "revoked" and keys[0]["revoked_reason"] == "laptop stolen"


def test_required_for_pull_refuses_unsigned_pulls_and_runs(served: ServedHub,
                                                           tmp_path: Path) -> None:
    unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path, "required-for-pull")
    out = tmp_path / "out.wasm"
    refused = run("pull", unsigned.ref, "-o", str(out))
    message = one_line_error(refused)
    assert refused.exit_code == 1 and "required-for-pull trust policy of namespace 'acme'" \
        in message and "has no signature" in message
    assert not out.exists()
    assert run_json("pull", signed.ref, "-o", str(out))["signed_by"]
    assert out.read_bytes() == signed.module
    ran = run("run", unsigned.ref, "--config", "{}")
    assert ran.exit_code == 1 and "required-for-pull" in one_line_error(ran)
    ok = run("run", signed.ref, "--config", "{}", "--json")
    assert ok.exit_code == 0, ok.stderr
    for ref, code in ((unsigned.ref, 1), (signed.ref, 0)):
        spec = tmp_path / "tests.yaml"
        spec.write_text(f"module: {ref}\nplugin_config: {{}}\ncases:\n  - name: passes\n"
                        "    request: {method: GET, path: /}\n    expect: {status: 200}\n")
        tested = run("test", str(spec))
        assert tested.exit_code == code, tested.stdout + tested.stderr
        if code:
            assert "required-for-pull" in tested.stdout + tested.stderr
    # Other namespaces are not affected (built-in default: optional).
    elsewhere = publish(served.host, tmp_path, namespace="other")
    assert run("pull", elsewhere.ref, "-o", str(tmp_path / "e.wasm")).exit_code == 0


def test_ensure_trusted_is_the_deploy_gate(served: ServedHub, tmp_path: Path) -> None:
    unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path, "required-for-deploy")
    policy = served.trust.policy("acme")
    assert policy.mode is TrustMode.REQUIRED_FOR_DEPLOY
    keys = served.trust.trusted_keys("acme")
    with RegistryClient(served.host) as client:
        reader = ClientReader(client)
        # Pulling an unsigned plugin is still allowed by this policy ...
        assert run("pull", unsigned.ref, "-o", str(tmp_path / "u.wasm")).exit_code == 0
        # ... deploying it is not, and --force does not help.
        with pytest.raises(UntrustedPlugin, match="has no signature"):
            ensure_trusted(Reference.parse(unsigned.ref), unsigned.digest, policy, keys,
                           reader, Purpose.DEPLOY)
        with pytest.raises(UntrustedPlugin, match="--force is refused"):
            ensure_trusted(Reference.parse(signed.ref), signed.digest, policy, keys, reader,
                           Purpose.DEPLOY, force=True)
        decision = ensure_trusted(Reference.parse(signed.ref), signed.digest, policy, keys,
                                  reader, Purpose.DEPLOY)
        label = f"acme/release ({keys[0].public.key_id})"
        assert decision.required and decision.signed_by == [label]
        optional = served.trust.policy("other")
        free = ensure_trusted(Reference.parse(unsigned.ref), unsigned.digest, optional, [],
                              reader, Purpose.DEPLOY, force=True)
        assert not free.required and free.report is None


def test_deploy_refuses_plugins_the_namespace_policy_does_not_trust(
    served: ServedHub, tmp_path: Path
) -> None:
    unsigned, signed = acme_policy_with_one_signed_plugin(served, tmp_path, "required-for-deploy")
    out = tmp_path / "deploy"
    # In process the refusal surfaces as the typed error the executable's main() turns
    # into one "error: ..." line and exit code 1.
    refused = run("deploy", "istio", unsigned.ref, "-l", "app=web", "-o", str(out))
    assert isinstance(refused.exception, UntrustedPlugin), refused.stdout + refused.stderr
    message = refused.exception.message
    assert "required-for-deploy trust policy of namespace 'acme'" in message
    assert "has no signature" in message
    assert not out.exists()  # nothing written on a refusal
    forced = run("deploy", "istio", unsigned.ref, "-l", "app=web", "--force")
    assert isinstance(forced.exception, UntrustedPlugin)
    assert "--force is refused" in forced.exception.message
    ok = run("deploy", "istio", signed.ref, "-l", "app=web", "-o", str(out))
    assert ok.exit_code == 0, ok.stderr
    assert "verified: signed by acme/release" in ok.stderr
    assert (out / "kustomization.yaml").is_file()
    # A namespace whose policy is optional deploys unsigned plugins as before.
    elsewhere = publish(served.host, tmp_path, namespace="other")
    assert run("deploy", "istio", elsewhere.ref, "-l", "app=web").exit_code == 0
