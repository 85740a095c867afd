"""``wasmhub test --envoy``: every sample's tests.yaml passes in both hosts, through the
real ``wasmhub`` executable; and a disagreement between the hosts is reported as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fidelity.scenarios import EXAMPLES, SAMPLES
from wasmhub.runtime.envoy_harness import compare_suites
from wasmhub.runtime.harness import CaseResult, Mismatch, SuiteResult
from wasmhub.runtime.model import HttpResult

pytestmark = pytest.mark.slow
WASMHUB = Path(sys.executable).parent / "wasmhub"


@pytest.mark.timeout(900)  # rate-limit waits out its 60 s window in real time in Envoy
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_tests_pass_in_both_hosts(name: str, built_samples: dict[str, Path]) -> None:
    module = built_samples[f"examples/{name}"]
    done = subprocess.run(
        [str(WASMHUB), "test", str(EXAMPLES / name / "tests.yaml"), "--module", str(module),
         "--envoy", "--json"], capture_output=True, text=True, timeout=840, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["local"]["passed"] and report["envoy"]["passed"]
    assert report["differences"] == []
    ran = [case for case in report["envoy"]["cases"] if case["result"] is not None]
    assert ran and all(case["passed"] for case in ran)


def _suite(*statuses: int | None) -> SuiteResult:
    cases = [CaseResult(f"case {index}", result=HttpResult(status, [], b"", [], None))
             for index, status in enumerate(statuses)]
    return SuiteResult("t", cases)


def test_a_disagreement_between_the_hosts_is_reported() -> None:
    local, envoy = _suite(200, 429), _suite(200, 200)
    envoy.cases[1].mismatches.append(Mismatch("status", "expected 429, got 200"))
    differences = compare_suites(local, envoy)
    assert [(d.case, d.message) for d in differences] == [
        ("case 1", "passes in wasmhub only"), ("case 1", "status 429 in wasmhub, 200 in Envoy")]
    assert compare_suites(local, _suite(200, 429)) == []
