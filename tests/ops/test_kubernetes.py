"""The kustomize manifests (k8s/) render with ``kubectl kustomize``, validate against the
Kubernetes schemas (kubernetes-validate, strict) and wire what scaling needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from wasmhub.settings import Settings

ROOT = Path(__file__).resolve().parents[2] / "k8s"
KUBERNETES_VERSION = "1.32.0"


def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed; scripts/bootstrap --test installs it with apt")
    proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@pytest.mark.parametrize("directory", ["base", "overlays/example"])
def test_manifests_render_and_validate(directory: str) -> None:
    docs = render(ROOT / directory)
    kinds = sorted(doc["kind"] for doc in docs)
    assert {"ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Service"} <= set(kinds)
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_example_overlay_wires_replicas_probes_and_settings() -> None:
    docs = {doc["kind"]: doc for doc in render(ROOT / "overlays/example")}
    deployment, pdb, job = docs["Deployment"], docs["PodDisruptionBudget"], docs["Job"]
    config = docs["ConfigMap"]["data"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    grace = int(config["WASMHUB_SHUTDOWN_GRACE_SECONDS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > grace
    # Every WASMHUB_ variable is a setting wasmhub knows (a typo would fail at start).
    names = {f"WASMHUB_{name.upper()}" for name in Settings.model_fields}
    given = set(config) | set(docs["Secret"]["data"])
    assert {k for k in given if k.startswith("WASMHUB_")} <= names
    env = {k: str(v) for k, v in config.items() if k.startswith("WASMHUB_")}
    settings = Settings(**{k.removeprefix("WASMHUB_").lower(): v for k, v in env.items()})
    assert settings.storage == "s3" and settings.redis_url


def test_the_validator_rejects_a_misspelt_field() -> None:
    deployment = next(d for d in render(ROOT / "base") if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
