"""The ``wasmhub`` executable turns domain errors into one line and an exit code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.servers import wasmhub_command


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wasmhub_command(), *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "WASMHUB_DATA_DIR": str(tmp_path), **env},
    )


def test_config_error_from_a_command_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, WASMHUB_DATABASE_URL="not a url")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "database_url" in lines[0] and lines[0].startswith("error:")


def test_db_upgrade_then_config_check_succeed(tmp_path: Path) -> None:
    upgraded = run(["db", "upgrade"], tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "0002_catalog" in upgraded.stdout
    assert (tmp_path / "wasmhub.db").exists()
