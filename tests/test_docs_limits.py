"""docs/operations.md's "Limits" table names real settings with their real defaults."""

from __future__ import annotations

import re
from pathlib import Path

from wasmhub.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
UNITS = {"": 1, "s": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
# Limits robust-server added; each must be in the table.
REQUIRED = {
    "max_blob_bytes", "max_upload_sessions", "max_upload_sessions_per_client",
    "upload_session_expiry_seconds", "max_error_detail_bytes", "max_header_bytes",
    "worker_healthcheck_timeout_seconds", "config_schema_timeout_seconds",
    "config_schema_workers",
}


def limit_rows() -> list[list[str]]:
    section = DOC.read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ")]
    return [row for row in rows[1:] if not set(row[0]) <= {"-"}]  # no header, no rule


def as_number(text: str) -> float:
    match = re.fullmatch(r"([\d,.]+)\s*(s|KiB|MiB|GiB)?", text)
    assert match, f"unreadable default {text!r}"
    return float(match.group(1).replace(",", "")) * UNITS[match.group(2) or ""]


def test_every_limit_row_names_a_setting_with_its_default() -> None:
    named = set()
    for _what, setting, env, default in (row[:4] for row in limit_rows()):
        match = re.fullmatch(r"`([a-z_]+)`", setting)
        if match is None:
            continue  # a constant in the code, or the protocol's own limit
        name = match.group(1)
        named.add(name)
        assert name in Settings.model_fields, name
        assert env == f"`WASMHUB_{name.upper()}`", (name, env)
        assert as_number(default) == Settings.model_fields[name].default, (name, default)
    assert named >= REQUIRED
