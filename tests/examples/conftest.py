"""Builds every sample plugin once per session, from source, with ``wasmhub.build``.

The AssemblyScript samples share examples/package.json; the first build runs ``npm ci``
there when node_modules is missing, then asc. The C sample is compiled with clang.
Modules go to a session temp directory so the tests never depend on stale build/ output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wasmhub.build import BuildResult, build_project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLES = ("add-header", "auth-tenant", "rate-limit", "data-mask", "c-add-header")


@pytest.fixture(scope="session")
def built_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildResult]:
    out = tmp_path_factory.mktemp("examples")
    lines: list[str] = []
    results: dict[str, BuildResult] = {}
    for name in SAMPLES:
        results[name] = build_project(EXAMPLES / name, out / f"{name}.wasm", sink=lines.append)
    return results
