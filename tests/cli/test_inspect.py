"""``wasmhub inspect`` on local modules (in-process and through the real executable)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.helpers import one_line_error, run, run_json
from tests.client.fixtures import proxy_wasm_module
from tests.support.servers import wasmhub_command


def module_file(tmp_path: Path) -> Path:
    path = tmp_path / "filter.wasm"
    path.write_bytes(proxy_wasm_module("inspect"))
    return path


def test_inspect_json(tmp_path: Path) -> None:
    path = module_file(tmp_path)
    data = run_json("inspect", str(path))
    assert data["is_proxy_wasm"] is True
    assert data["abi_version"] == "0.2.0"
    assert data["filter_types"] == ["http"]
    names = {h["name"]: h for h in data["host_functions"]}
    assert names["proxy_log"]["in_abi"] is True
    assert "0.2.0" in names["proxy_log"]["defined_in"]
    assert data["wasi"] is None
    assert data["size"] == path.stat().st_size
    verdicts = data["compatibility"]
    assert {v["status"] for v in verdicts} <= {"compatible", "incompatible", "unverified"}
    assert any(v["platform"] == "istio" and v["status"] == "compatible" for v in verdicts)


def test_inspect_table(tmp_path: Path) -> None:
    result = run("inspect", str(module_file(tmp_path)))
    assert result.exit_code == 0, result.stderr
    assert "0.2.0 (proxy_abi_version_0_2_0)" in result.stdout
    assert "proxy_get_header_map_value" in result.stdout
    assert "http" in result.stdout
    assert "compatibility" in result.stdout


def test_inspect_not_wasm(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"this is not wasm")
    result = run("inspect", str(bad))
    assert result.exit_code == 1
    assert one_line_error(result)


def test_inspect_bad_reference() -> None:
    result = run("inspect", "127.0.0.1:5000/UPPER:tag")
    assert result.exit_code == 2
    assert "invalid repository name" in one_line_error(result)


def test_inspect_via_real_executable(tmp_path: Path) -> None:
    path = module_file(tmp_path)
    proc = subprocess.run([*wasmhub_command(), "inspect", str(path), "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["abi_version"] == "0.2.0"
