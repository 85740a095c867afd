"""Thin wrappers over the real OCI clients the interop tests drive."""

from __future__ import annotations

import json
import subprocess
from typing import Any

SKOPEO = "/usr/bin/skopeo"


def skopeo(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run skopeo; raise with its stderr when it fails."""
    proc = subprocess.run(
        [SKOPEO, "--insecure-policy", *args], capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"skopeo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}"
        )
    return proc


def skopeo_json(*args: str) -> Any:
    return json.loads(skopeo(*args).stdout)
