"""``wasmhub deploy`` / ``undeploy`` / ``status`` through the real executable against a
running hub: GitOps output equal to ``kubectl kustomize``, and every bad input refused
with the field named and nothing written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.servers import free_port, wasmhub_command

from .conftest import PublishedHub


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*wasmhub_command(), *args], capture_output=True, text=True,
                          timeout=300, check=False, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd or Path.cwd())})


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _key(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=True)


KUBE_CASES = [
    ("istio", ["--selector", "app=web", "--phase", "AUTHN", "--priority", "10",
               "--env", "TENANT=acme", "--host-env", "POD_NAME", "--match-mode", "SERVER",
               "--port", "8080"]),
    ("istio-trafficextension", ["--target-ref", "Gateway/edge", "--fail-strategy", "fail-open"]),
    ("envoy-gateway", ["--target-ref", "HTTPRoute/store", "--source", "http"]),
    ("higress", ["--domain", "*.example.com", "--ingress", "shop/store"]),
    ("consul", ["--service", "web", "--service", "api"]),
]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kubernetes-client)")
@pytest.mark.parametrize(("platform", "options"), KUBE_CASES, ids=[c[0] for c in KUBE_CASES])
def test_gitops_dir_equals_kubectl_kustomize(
    published_hub: PublishedHub, tmp_path: Path, platform: str, options: list[str]
) -> None:
    out = tmp_path / "out"
    done = run("deploy", platform, published_hub.ref, *options, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = [d for f in sorted(out.iterdir()) if f.name != "kustomization.yaml"
            for d in docs(f.read_text())]
    assert ours and all(d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "wasmhub"
                        for d in ours)
    kustomized = subprocess.run(["kubectl", "kustomize", str(out)], capture_output=True,
                                text=True, timeout=120, check=True).stdout
    assert sorted(map(_key, docs(kustomized))) == sorted(map(_key, ours))
    assert "warning:" in done.stderr  # at least the fail-closed/plain-HTTP notes


def test_stdout_yaml_is_pinned_and_uses_the_plugins_defaults(
    published_hub: PublishedHub, tmp_path: Path
) -> None:
    done = run("deploy", "istio", published_hub.ref, "--selector", "app=web", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [doc] = docs(done.stdout)
    spec = doc["spec"]
    assert spec["sha256"] == published_hub.manifest_digest.removeprefix("sha256:")
    assert spec["pluginName"] == "add_header"  # the plugin's own root id
    assert spec["priority"] == 100  # ... its priority, and its example config
    assert spec["pluginConfig"]["request_headers_to_add"] == {"x-hello": "world"}
    assert "WASM_INSECURE_REGISTRIES" in done.stderr  # plain-HTTP hub + OCI
    assert "fail-closed" in done.stderr


def test_deploy_file_round_trip(published_hub: PublishedHub, tmp_path: Path) -> None:
    spec = {"apiVersion": "wasmhub.io/v1alpha1", "kind": "PluginDeployment",
            "metadata": {"name": "hello", "namespace": "shop"},
            "spec": {"platform": "envoy-gateway", "plugin": {"ref": published_hub.ref},
                     "targets": {"targetRefs": [{"kind": "Gateway", "name": "eg"}]},
                     "config": {"response_headers_to_add": {"x-a": "b"}}}}
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(spec))
    done = run("deploy", "--file", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    [policy] = result["resources"]
    assert policy["metadata"] == {**policy["metadata"], "name": "hello", "namespace": "shop"}
    assert policy["spec"]["wasm"][0]["config"] == {"response_headers_to_add": {"x-a": "b"}}


@pytest.mark.parametrize(("args", "words"), [
    (["--priority", "0"], "priority: Input should be greater than or equal to 1"),
    (["--priority", "1001"], "priority: Input should be less than or equal to 1000"),
    (["--phase", "EARLY"], "phase: Input should be 'AUTHN'"),
    (["--selector", "app=x", "--target-ref", "Gateway/g"], "targets: selector and targetRefs"),
    (["--config", '{"request_headers_to_add": 5}'], "config.request_headers_to_add: 5 is not"),
    (["--platform-version", "1.5"], "incompatible with Istio 1.5: ABI 0.2.0 is not supported"),
    (["--platform-version", "9.9"], "platformVersion '9.9' is not one we have data for"),
    (["--type", "network"], "pluginType: the module is a http filter, not network"),
])
def test_bad_input_is_refused_naming_the_field(
    published_hub: PublishedHub, tmp_path: Path, args: list[str], words: str
) -> None:
    out = tmp_path / "out"
    done = run("deploy", "istio", published_hub.ref, "--selector", "app=web", *args,
               "-o", str(out), cwd=tmp_path) if "--selector" not in args else \
        run("deploy", "istio", published_hub.ref, *args, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert words in done.stderr, done.stderr
    assert not out.exists()  # nothing half-written


def test_force_overrides_only_compatibility(published_hub: PublishedHub, tmp_path: Path
                                            ) -> None:
    done = run("deploy", "istio", published_hub.ref, "--platform-version", "1.5", "--force",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "overridden by --force" in done.stderr
    still = run("deploy", "istio", published_hub.ref, "--platform-version", "1.5", "--force",
                "--config", '{"request_headers_to_add": 5}', cwd=tmp_path)
    assert still.returncode == 1 and "config.request_headers_to_add" in still.stderr


def test_missing_tag_and_existing_files(published_hub: PublishedHub, tmp_path: Path) -> None:
    missing = run("deploy", "istio", published_hub.ref.replace(":0.1.0", ":9.9.9"),
                  cwd=tmp_path)
    assert missing.returncode == 1 and "9.9.9" in missing.stderr
    out = tmp_path / "out"
    out.mkdir()
    (out / "kustomization.yaml").write_text("# mine\n")
    done = run("deploy", "istio", published_hub.ref, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 1 and "would overwrite kustomization.yaml" in done.stderr
    assert (out / "kustomization.yaml").read_text() == "# mine\n"
    assert sorted(p.name for p in out.iterdir()) == ["kustomization.yaml"]


def test_unreachable_cluster_is_one_clear_line(published_hub: PublishedHub, tmp_path: Path
                                               ) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    port = free_port()  # nothing listens there
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    done = run("deploy", "istio", published_hub.ref, "--apply", "--kubeconfig",
               str(kubeconfig), cwd=tmp_path)
    assert done.returncode == 1
    assert f"cannot reach the cluster at http://127.0.0.1:{port}" in done.stderr
    status = run("status", "--kubeconfig", str(kubeconfig), cwd=tmp_path)
    assert status.returncode == 1 and "cannot reach the cluster" in status.stderr
