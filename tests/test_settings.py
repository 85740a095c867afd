from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from wasmhub.cli import app
from wasmhub.errors import ConfigError
from wasmhub.settings import DEFAULT_PORT, load_settings


def test_defaults_put_sqlite_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMHUB_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.port == DEFAULT_PORT
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/wasmhub.db"


def test_env_beats_file_and_argument_beats_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("port: 6000\nlog_level: debug\n")
    monkeypatch.setenv("WASMHUB_PORT", "7000")
    settings = load_settings(config)
    assert (settings.port, settings.log_level) == (7000, "debug")
    assert load_settings(config, port=8000).port == 8000


def test_toml_config_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('host = "0.0.0.0"\nworkers = 2\n')
    settings = load_settings(config)
    assert (settings.host, settings.workers) == ("0.0.0.0", 2)


def test_bad_setting_names_field_and_source(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("port: 99999\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "port (config file)" in info.value.message
    assert "bogus (config file)" in info.value.message


def test_config_file_must_be_a_mapping(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config)


def test_config_check_command_reports_bad_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMHUB_LOG_LEVEL", "loud")
    result = CliRunner().invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "WASMHUB_LOG_LEVEL" in result.output


def test_config_check_command_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMHUB_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["config", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert '"port": 5080' in result.output
