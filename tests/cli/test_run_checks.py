"""``wasmhub run`` checks its input before the plugin sees it, and filters plugin logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from tests.cli.helpers import one_line_error, run
from tests.runtime.wat import cstr, module
from wasmhub.cli.runtime import _start_failure
from wasmhub.runtime.abi import LogLevel
from wasmhub.runtime.errors import PluginStartError
from wasmhub.runtime.model import LogEntry

PLUGIN_YAML = """\
apiVersion: wasmhub.dev/v1
kind: Plugin
metadata:
  name: checked
  version: 1.0.0
  displayName: {en: Checked}
  description: {en: Needs a header.}
spec:
  configSchema:
    type: object
    required: [header]
    additionalProperties: false
    properties:
      header: {type: string, minLength: 1}
  exampleConfig: {header: x-a}
"""

LOGGING = {"proxy_on_request_headers": f"""
      (drop (call $proxy_log (i32.const 1) {cstr(0x100, "debug noise")}))
      (drop (call $proxy_log (i32.const 4) {cstr(0x120, "real trouble")}))
      (i32.const 0)"""}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "checked"
    (root / "build").mkdir(parents=True)
    (root / "build" / "plugin.wasm").write_bytes(
        module(LOGGING, data={0x100: b"debug noise", 0x120: b"real trouble"}))
    (root / "plugin.yaml").write_text(PLUGIN_YAML)
    return root


def test_invalid_json_is_caught_before_the_plugin(project: Path) -> None:
    result = run("run", str(project), "--config", '{"header": ')
    assert result.exit_code == 2
    assert one_line_error(result).startswith("--config is not valid JSON: Expecting value at "
                                             "line 1 column 12")


def test_config_is_checked_against_the_project_schema(project: Path, tmp_path: Path) -> None:
    for target in (str(project), str(project / "build" / "plugin.wasm")):
        result = run("run", target, "--config", '{"header": "", "extra": 1}')
        assert result.exit_code == 2
        message = one_line_error(result)
        assert f"does not match the configSchema in {project / 'plugin.yaml'}" in message
        assert "'extra' was unexpected" in message and "header:" in message
    config = tmp_path / "config.json"
    config.write_text('{"header": "x-ok"}')
    assert run("run", str(project), "--config", f"@{config}").exit_code == 0
    raw = run("run", str(project), "--config", "not json at all", "--raw-config")
    assert raw.exit_code == 0, raw.stderr


def test_log_level_hides_debug_noise_unless_asked(project: Path) -> None:
    default = run("run", str(project), "--config", '{"header": "x-a"}')
    assert default.exit_code == 0, default.stderr
    assert "real trouble" in default.stdout and "debug noise" not in default.stdout
    verbose = run("run", str(project), "--config", '{"header": "x-a"}', "--log-level", "debug")
    assert "debug noise" in verbose.stdout and "real trouble" in verbose.stdout
    bad = run("run", str(project), "--log-level", "loud")
    assert bad.exit_code == 2 and "--log-level must be one of" in one_line_error(bad)


def test_missing_module_file_is_named(tmp_path: Path) -> None:
    result = run("run", str(tmp_path / "nope.wasm"))
    assert result.exit_code == 2
    assert one_line_error(result) == f"{tmp_path / 'nope.wasm'}: no such file"


def test_start_failure_shows_the_plugin_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    error = PluginStartError("proxy_on_configure returned false: the plugin rejected its "
                             "configuration")
    error.plugin_logs = [LogEntry(LogLevel.ERROR, "[chatgpt-proxy] need config", 1)]  # type: ignore[attr-defined]
    with pytest.raises(typer.Exit) as exited:
        _start_failure(error, "info")
    assert exited.value.exit_code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("error: proxy_on_configure returned false")
    assert lines[1] == "plugin log:"
    assert lines[2].split() == ["error", "[chatgpt-proxy]", "need", "config"]
