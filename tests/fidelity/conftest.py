"""Sample modules built once per session for the fidelity tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fidelity.scenarios import build_samples


@pytest.fixture(scope="session")
def built_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_samples(tmp_path_factory.mktemp("fidelity-samples"))
