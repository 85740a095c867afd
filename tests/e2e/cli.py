"""Running the installed ``wasmhub`` executable as a user would, for the e2e tests.

Each command is a subprocess of ``.venv/bin/wasmhub`` (or a shell line with ``.venv/bin``
first on PATH) in a chosen directory, with an empty ``DOCKER_CONFIG`` and no ``WASMHUB_*``
variables from the caller, so nothing of the developer's setup leaks in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WASMHUB = REPO / ".venv" / "bin" / "wasmhub"
EXAMPLES_NODE_MODULES = REPO / "examples" / "node_modules"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WASMHUB_")}
    (home / "docker").mkdir(parents=True, exist_ok=True)
    # Credentials and signing keys stay in the test's own directory, never the user's.
    env.update({"DOCKER_CONFIG": str(home / "docker"), "WASMHUB_KEY_DIR": str(home / "keys"),
                "COLUMNS": "80", "NO_COLOR": "1",
                "PATH": f"{WASMHUB.parent}{os.pathsep}{env.get('PATH', '')}", **extra})
    return env


@dataclass(frozen=True)
class Cli:
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def at(self, cwd: Path, **env: str) -> Cli:
        return replace(self, cwd=cwd, env={**self.env, **env})

    def __call__(self, *args: str, expect: int | None = 0,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(WASMHUB), *args], cwd=self.cwd, env=self.env, input=input,
                                capture_output=True, text=True, check=False, timeout=900)
        if expect is not None:
            assert result.returncode == expect, (
                f"wasmhub {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def shell(self, line: str) -> subprocess.CompletedProcess[str]:
        """One command line exactly as a page shows it, through bash."""
        return subprocess.run(["bash", "-c", line], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, check=False, timeout=900)


def give_toolchain(project: Path) -> None:
    """Reuse examples/node_modules (same pins) so a build goes straight to asc."""
    have = (EXAMPLES_NODE_MODULES / ".bin" / "asc").exists()
    if have and not (project / "node_modules").exists():
        shutil.copytree(EXAMPLES_NODE_MODULES, project / "node_modules", symlinks=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
