"""``wasmhub attest`` / ``attestations``: signed SBOM and provenance referrers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import one_line_error, run, run_json
from tests.signing import tamper
from tests.signing.conftest import ServedHub, generate_key, publish
from wasmhub.client.registry import RegistryClient

SPDX = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "filter",
        "dataLicense": "CC0-1.0", "packages": [{"name": "proxy-runtime",
                                                  "versionInfo": "0.1.8"}]}
CYCLONEDX = {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}
SLSA = {"buildDefinition": {"buildType": "https://wasmhub.dev/build/v1",
                            "externalParameters": {"source": "git+https://example/f"}},
        "runDetails": {"builder": {"id": "https://ci.example/runner"}}}


def _file(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_attest_sbom_and_provenance_then_list_and_verify(served: ServedHub,
                                                         tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    sbom = run_json("attest", plugin.ref, _file(tmp_path, "sbom.json", SPDX),
                    "--type", "sbom", "--key", "k")
    assert sbom["predicate_type"] == "https://spdx.dev/Document"
    cdx = run_json("attest", plugin.ref, _file(tmp_path, "bom.json", CYCLONEDX),
                   "--type", "sbom", "--key", "k")
    assert cdx["predicate_type"] == "https://cyclonedx.org/bom"
    prov = run_json("attest", plugin.ref, _file(tmp_path, "prov.json", SLSA),
                    "--type", "provenance", "--key", "k")
    assert prov["predicate_type"] == "https://slsa.dev/provenance/v1"

    listed = run_json("attestations", plugin.ref, "--key", "k")
    kinds = sorted((a["type"], a["predicate_type"]) for a in listed["attestations"])
    assert kinds == [("provenance", "https://slsa.dev/provenance/v1"),
                     ("sbom", "https://cyclonedx.org/bom"), ("sbom", "https://spdx.dev/Document")]
    assert listed["rejected"] == []
    # The envelope is a plain DSSE/in-toto statement naming the manifest digest.
    with RegistryClient(served.host) as client:
        manifest = client.get_manifest(plugin.repository, str(sbom["referrer"])).json()
        envelope = json.loads(client.fetch_blob(plugin.repository,
                                                manifest["layers"][0]["digest"]))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"] == {"sha256": plugin.digest.split(":")[1]}
    assert statement["predicate"] == SPDX
    # Attestations are not signatures: the plugin is still unsigned.
    assert run("verify", plugin.ref, "--key", "k").exit_code == 1
    generate_key("other")
    wrong = run("attestations", plugin.ref, "--key", "other")
    assert wrong.exit_code == 1 and "3 attestation(s) did not verify" in one_line_error(wrong)


@pytest.mark.parametrize(("kind", "doc", "reason"), [
    ("sbom", SLSA, "neither an SPDX"),
    ("provenance", SPDX, "not a SLSA provenance predicate"),
    ("provenance", {"_type": "https://in-toto.io/Statement/v1", "predicate": {}},
     "whole in-toto statement"),
    ("sbom", "not an object", "not a JSON object"),
])
def test_attest_refuses_documents_of_another_kind(served: ServedHub, tmp_path: Path, kind: str,
                                                  doc: object, reason: str) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    result = run("attest", plugin.ref, _file(tmp_path, "doc.json", doc), "--type", kind,
                 "--key", "k")
    assert result.exit_code == 1 and reason in one_line_error(result)
    with RegistryClient(served.host) as client:
        assert client.referrers(plugin.repository, plugin.digest)["manifests"] == []


def test_tampered_attestation_is_refused(served: ServedHub, tmp_path: Path) -> None:
    generate_key("k")
    plugin = publish(served.host, tmp_path)
    attested = run_json("attest", plugin.ref, _file(tmp_path, "sbom.json", SPDX),
                        "--type", "sbom", "--key", "k")
    with RegistryClient(served.host) as client:
        doc = client.get_manifest(plugin.repository, str(attested["referrer"])).json()
        envelope = json.loads(client.fetch_blob(plugin.repository, doc["layers"][0]["digest"]))
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["packages"] = []  # drop a dependency from the SBOM
        envelope["payload"] = base64.b64encode(tamper.dumps(statement)).decode()
        blob = tamper.dumps(envelope)
        client.upload_blob(plugin.repository, blob)
        doc["layers"][0].update(digest=tamper.digest_of(blob), size=len(blob))
        client.delete_manifest(plugin.repository, str(attested["referrer"]))
        client.put_manifest(plugin.repository, tamper.digest_of(tamper.dumps(doc)),
                            tamper.dumps(doc), tamper.OCI_MANIFEST)
    result = run("attestations", plugin.ref, "--key", "k")
    assert result.exit_code == 1 and "does not verify with the key k" in one_line_error(result)


def test_plugin_page_lists_attestations(served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("k")
    served.trust.add_key("acme", "builder", public.read_bytes(), "ops")
    plugin = publish(served.host, tmp_path)
    run_json("attest", plugin.ref, _file(tmp_path, "p.json", SLSA), "--type", "provenance",
             "--key", "k")
    body = httpx.get(f"{served.url}/api/v1/plugins/{plugin.repository}/versions/1.0.0/"
                     "signatures").json()
    assert [(a["type"], a["key"]) for a in body["attestations"]] == [("provenance", "builder")]
    html = httpx.get(f"{served.url}/plugins/{plugin.repository}").text
    section = html.split('id="signatures"', 1)[1]
    assert "https://slsa.dev/provenance/v1" in section and 'data-type="provenance"' in section
