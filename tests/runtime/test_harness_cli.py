"""The YAML runner (Harness) and the `run`/`test` CLI verbs."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
import wasmtime
from typer.testing import CliRunner

from wasmhub.cli import app
from wasmhub.runtime import TestFileError
from wasmhub.runtime.harness import Harness
from wasmhub.runtime.testfile import parse_test_file

FIXTURES = Path(__file__).parent / "fixtures"

PASSING = """
module: rate_limit.wasm
plugin_config: {limit: 3}
cases:
  - name: first request passes with the added header
    request: {path: /a, headers: {x-user: u1}}
    upstream: {status: 200, headers: {content-type: text/plain}, body: hello}
    expect:
      status: 200
      body: hello
      reached_upstream: true
      upstream_headers: {x-user: u1, ":path": /a}
  - name: fourth request in the window is limited
    repeat: 3
    expect:
      status: 429
      headers: {x-rate-limited: "1"}
      body_contains: limited
      reached_upstream: false
      local_reply: true
      metrics: {rate_limited_total: 1}
  - name: bypass header always passes
    request: {headers: {x-bypass: "yes"}}
    expect: {status: 200}
  - name: budget comes back after the window
    advance_ms: 1000
    expect: {status: 200, metrics: {rate_limited_total: 1}}
"""

FAILING = """
module: add_header.wasm
cases:
  - name: wrong expectations
    upstream: {body: "line one\\nline two"}
    expect:
      status: 201
      body: "line one\\nline 2"
      headers: {x-wasm: other}
      headers_absent: [content-type, x-wasm]
      upstream_headers: {x-hello: there}
      metrics: {missing_metric: 1}
      logs_contain: [never logged]
  - name: this one passes
    expect: {status: 200, upstream_headers: {x-hello: world}}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("add_header", "rate_limit"):
        wasm = wasmtime.wat2wasm((FIXTURES / f"{name}.wat").read_text())
        (tmp_path / f"{name}.wasm").write_bytes(wasm)
    (tmp_path / "pass.yaml").write_text(PASSING)
    (tmp_path / "fail.yaml").write_text(FAILING)
    return tmp_path


def test_harness_passes_and_keeps_state_across_cases(workdir: Path) -> None:
    suite = Harness.from_file(workdir / "pass.yaml").run()
    assert [case.mismatches for case in suite.cases] == [[], [], [], []]
    assert suite.passed and suite.abi == "0.2.1"


def test_harness_reports_mismatches_with_diffs(workdir: Path) -> None:
    suite = Harness.from_file(workdir / "fail.yaml").run()
    assert not suite.passed
    first, second = suite.cases
    assert second.passed
    rendered = "\n".join(m.render() for m in first.mismatches)
    assert "status: expected 201, got 200" in rendered
    assert "-line 2\n+line two" in rendered
    assert "headers.x-wasm: expected 'other', got 'add-header'" in rendered
    assert "headers_absent.x-wasm: present" in rendered
    assert "upstream_headers.x-hello: expected 'there', got 'world'" in rendered
    assert "metrics.missing_metric: not defined" in rendered
    assert "no log line contains 'never logged'" in rendered


def test_junit_report(workdir: Path) -> None:
    suite = Harness.from_file(workdir / "fail.yaml").run()
    root = ElementTree.fromstring(suite.junit())
    suite_node = root.find("testsuite")
    assert suite_node is not None
    assert suite_node.get("tests") == "2" and suite_node.get("failures") == "1"
    failures = root.findall(".//failure")
    assert len(failures) == 1 and "status: expected 201" in (failures[0].text or "")


@pytest.mark.parametrize(("data", "message"), [
    ({"cases": []}, "cases: List should have at least 1 item"),
    ({"cases": [{"name": "x", "expect": {"status": "abc"}}]},
     "cases[0].expect.status: Input should be a valid integer"),
    ({"cases": [{"name": "x", "expect": {"stauts": 200}}]},
     "cases[0].expect.stauts: Extra inputs are not permitted"),
    ({"fail_strategy": "maybe", "cases": [{"name": "x"}]}, "fail_strategy: Input should be"),
    ({"log_level": "loud", "cases": [{"name": "x"}]}, "unknown log level 'loud'"),
    ([1, 2], "the top level must be a mapping"),
])
def test_test_file_validation_names_the_field(data: object, message: str) -> None:
    with pytest.raises(TestFileError) as info:
        parse_test_file(data)
    assert message in info.value.message


def test_missing_module_is_a_suite_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("module: nothing.wasm\ncases: [{name: a}]\n")
    suite = Harness.from_file(tmp_path / "t.yaml").run()
    assert suite.error is not None and "cannot read module" in suite.error
    assert not suite.passed


def test_cli_test_pass_fail_junit_json(workdir: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["test", str(workdir / "pass.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "4/4 cases passed" in ok.output
    junit = workdir / "report.xml"
    bad = runner.invoke(app, ["test", str(workdir / "fail.yaml"), "--junit", str(junit)])
    assert bad.exit_code == 1
    assert "FAIL wrong expectations" in bad.output and "+line two" in bad.output
    assert ElementTree.parse(junit).getroot().tag == "testsuites"
    as_json = runner.invoke(app, ["test", str(workdir / "fail.yaml"), "--json",
                                  "--module", str(workdir / "add_header.wasm")])
    payload = json.loads(as_json.output)
    assert payload["passed"] is False and payload["cases"][1]["passed"] is True
    invalid = runner.invoke(app, ["test", str(workdir / "missing.yaml")])
    assert invalid.exit_code == 2


def test_cli_run_prints_upstream_and_client_views(workdir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(workdir / "add_header.wasm"), "-H", "x-a: b",
                                 "--path", "/p", "--upstream-body", "hi", "--json",
                                 "--config", "{}", "--vm-env", "K=V"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["status"] == 200 and payload["body"] == "hi"
    assert ["x-hello", "world"] in payload["upstream_request"]["headers"]
    assert ["x-wasm", "add-header"] in payload["headers"]
    assert payload["abi"] == "0.2.1"
    rich = runner.invoke(app, ["run", str(workdir / "add_header.wasm")])
    assert rich.exit_code == 0 and "Upstream saw" in rich.output and "x-hello" in rich.output
    bad = runner.invoke(app, ["run", str(workdir / "add_header.wasm"), "-H", "novalue"])
    assert bad.exit_code == 2


def test_cli_run_unreachable_registry_reference_fails_clearly() -> None:
    result = CliRunner().invoke(app, ["run", "127.0.0.1:1/plugins/add-header:1.0"])
    assert result.exit_code == 1
    assert "cannot reach registry" in result.output


@pytest.mark.interop
def test_cli_run_pulls_a_registry_reference(workdir: Path, tmp_path: Path) -> None:
    from tests.support.servers import running_distribution
    from wasmhub.client import RegistryClient
    from wasmhub.wasm import pack

    image = pack((workdir / "add_header.wasm").read_bytes())
    with running_distribution(tmp_path / "registry") as server, \
            RegistryClient(server.host, use_docker_config=False) as client:
        for blob in (image.config, *image.layers):
            client.upload_blob("plugins/add-header", blob.data, blob.digest)
        client.put_manifest("plugins/add-header", "1.0", image.manifest,
                            image.manifest_media_type)
        result = CliRunner().invoke(app, ["run", f"{server.host}/plugins/add-header:1.0",
                                          "--json"])
    assert result.exit_code == 0, result.output
    assert ["x-hello", "world"] in json.loads(result.output)["upstream_request"]["headers"]
