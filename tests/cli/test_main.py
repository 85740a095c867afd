"""The ``wasmhub`` executable turns domain errors into one line and an exit code."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.servers import running_wasmhub, wasmhub_command


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wasmhub_command(), *args], check=False, capture_output=True, text=True,
        timeout=120,
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
    from alembic.script import ScriptDirectory

    from wasmhub.db.migrate import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head and f"database at revision {head}" in upgraded.stdout
    assert (tmp_path / "wasmhub.db").exists()


def test_serve_on_an_empty_hub_offers_seed_and_stops_offering_once_used(tmp_path: Path) -> None:
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }).encode()
    with running_wasmhub(tmp_path / "hub") as server:
        assert "wasmhub seed" in server.log()
        r = httpx.post(f"{server.url}/v2/first/repo/blobs/uploads/",
                       params={"digest": config_digest}, content=config)
        assert r.status_code == 201, r.text
        r = httpx.put(f"{server.url}/v2/first/repo/manifests/v1", content=manifest,
                      headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert r.status_code == 201, r.text
    # Each start logs to its own file (its own port): the second start says nothing.
    with running_wasmhub(tmp_path / "hub") as server:
        # Announced once /healthz answers (a moment after the server is up).
        deadline = time.monotonic() + 60
        while "wasmhub serving on" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        assert "wasmhub seed" not in server.log()
