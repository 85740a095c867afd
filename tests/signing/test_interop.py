"""wasmhub's signatures as other tools see them, and theirs as wasmhub sees them.

- oras-py lists the signature through the referrers API (its own HTTP session) and reads
  the referrer manifest; skopeo (a plain registry client) finds the cosign tag.
- An independent verifier written from the format description (tests/signing/independent.py)
  verifies wasmhub's signatures, and wasmhub verifies the signatures it writes.
- Istio's fetch logic (plugin-ecosystem.md B3) still loads the signed plugin by its tag.
- On the CNCF registry (no referrers API) the referrer lands in the referrers tag schema.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import httpx
import oras.client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import registry
from tests.interop.clients import skopeo, skopeo_json
from tests.signing.conftest import ServedHub, generate_key, publish, sign
from tests.signing.independent import IndependentCosign
from tests.support.servers import RunningServer

__all__ = ["registry"]

SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"


def test_oras_lists_the_signature_through_the_referrers_api(served: ServedHub,
                                                            tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    referrer = sign(plugin.ref, "k")["referrer"]
    client = oras.client.OrasClient(hostname=served.host, insecure=True)  # a Registry
    response = client.do_request(
        f"http://{served.host}/v2/{plugin.repository}/referrers/{plugin.digest}")
    assert response.status_code == 200
    index = response.json()
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(m["digest"], m["artifactType"]) for m in index["manifests"]] == [
        (referrer, SIG_ARTIFACT)]
    manifest = client.get_manifest(f"{served.host}/{plugin.repository}@{referrer}")
    assert manifest["subject"]["digest"] == plugin.digest
    assert manifest["artifactType"] == SIG_ARTIFACT
    assert manifest["layers"][0]["mediaType"] == \
        "application/vnd.dev.cosign.simplesigning.v1+json"


def test_a_plain_client_finds_the_cosign_tag(served: ServedHub, tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    tag = str(sign(plugin.ref, "k")["cosign_tag"])
    image = f"docker://{served.host}/{plugin.repository}"
    tags = skopeo_json("list-tags", "--tls-verify=false", image)["Tags"]
    assert sorted(tags) == sorted(["1.0.0", tag])
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"{image}:{tag}").stdout)
    [layer] = raw["layers"]
    assert "dev.cosignproject.cosign/signature" in layer["annotations"]


def test_independent_verifier_accepts_wasmhub_signatures(served: ServedHub,
                                                         tmp_path: Path) -> None:
    public = generate_key("k")
    plugin = publish(served.host, tmp_path)
    sign(plugin.ref, "k", "-a", "team=platform")
    verifier = IndependentCosign(served.url)
    [claims] = verifier.verify(plugin.repository, plugin.digest, public.read_bytes())
    assert claims["optional"] == {"team": "platform"}
    generate_key("other")
    other = (public.parent / "other.pub").read_bytes()
    assert verifier.verify(plugin.repository, plugin.digest, other) == []


def test_wasmhub_accepts_the_independent_signers_signatures(served: ServedHub,
                                                            tmp_path: Path) -> None:
    plugin = publish(served.host, tmp_path)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "independent.pub").write_bytes(pem)
    IndependentCosign(served.url).sign(plugin.repository, plugin.digest, private)
    report = run_json("verify", plugin.ref, "--key", str(tmp_path / "independent.pub"))
    assert report["verified"] is True
    assert report["signatures"][0]["annotations"] == {"signed-by": "independent verifier"}
    # wasmhub adds its own signature next to the independent one (cosign appends layers).
    generate_key("k")
    sign(plugin.ref, "k", "--tag-only")
    assert len(IndependentCosign(served.url).verify(plugin.repository, plugin.digest, pem)) == 1


def _istio_fetch(base: str, repository: str, tag: str) -> tuple[bytes, str]:
    """Istio's image fetcher decode order (docker, compat, oci), by tag."""
    accept = ("application/vnd.docker.distribution.manifest.v2+json, "
              "application/vnd.oci.image.manifest.v1+json")
    response = httpx.get(f"{base}/v2/{repository}/manifests/{tag}", headers={"Accept": accept})
    response.raise_for_status()
    manifest = response.json()
    layers = manifest["layers"]

    def blob(digest: str) -> bytes:
        got = httpx.get(f"{base}/v2/{repository}/blobs/{digest}", follow_redirects=True)
        got.raise_for_status()
        return got.content

    def from_tar(data: bytes) -> bytes:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
            for member in tar.getmembers():
                if Path(member.name).name == "plugin.wasm":
                    handle = tar.extractfile(member)
                    assert handle is not None
                    return handle.read()
        raise AssertionError("no plugin.wasm")

    media = manifest.get("mediaType") or response.headers["content-type"]
    docker = media == "application/vnd.docker.distribution.manifest.v2+json"  # 1. docker
    compat = layers[-1]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"  # 2.
    if docker or compat:
        module = from_tar(blob(layers[-1]["digest"]))
    else:
        assert len(layers) == 2
        [wasm] = [x for x in layers
                  if x["mediaType"] == "application/vnd.module.wasm.content.layer.v1+wasm"]
        module = blob(wasm["digest"])
    assert module[:4] == b"\0asm" and len(module) >= 8
    return module, response.headers["docker-content-digest"]


def test_signed_plugins_still_load_through_istios_fetch(served: ServedHub,
                                                        tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    before = _istio_fetch(served.url, plugin.repository, "1.0.0")
    sign(plugin.ref, "k")
    sign(plugin.ref, "k")  # twice: the cosign tag grows, the plugin tag stays
    after = _istio_fetch(served.url, plugin.repository, "1.0.0")
    assert before == after == (plugin.module, plugin.digest)
    tags = httpx.get(f"{served.url}/v2/{plugin.repository}/tags/list").json()["tags"]
    assert "1.0.0" in tags and len(tags) == 2


def test_sign_and_verify_on_a_registry_without_the_referrers_api(
        registry: RunningServer, tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(registry.host, tmp_path, namespace="cncf")
    signed = sign(plugin.ref, "k", "--referrer-only")
    fallback = plugin.digest.replace(":", "-")
    index = httpx.get(f"{registry.url}/v2/{plugin.repository}/manifests/{fallback}",
                      headers={"Accept": "application/vnd.oci.image.index.v1+json"}).json()
    assert [m["digest"] for m in index["manifests"]] == [signed["referrer"]]
    report = run_json("verify", plugin.ref, "--key", "k")
    assert report["signatures"][0]["sources"] == [f"referrer {signed['referrer']}"]
    # No trust API on a plain registry: --verify without --key says so.
    result = run("pull", plugin.ref, "--verify", "-o", str(tmp_path / "x.wasm"))
    assert result.exit_code == 2 and "give --key" in one_line_error(result)
