"""Deploy fixtures: the add-header sample built from source and published in a real
``wasmhub serve`` process (its own data dir, SQLite), for end-to-end deploy tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, RunningServer, running_wasmhub
from wasmhub.build import build_project
from wasmhub.catalog.seed import seed_samples
from wasmhub.db.migrate import upgrade
from wasmhub.hub import Hub
from wasmhub.settings import Settings


@dataclass(frozen=True)
class PublishedHub:
    server: RunningServer
    module: bytes
    manifest_digest: str
    ref: str  # 127.0.0.1:PORT/library/add-header:0.1.0
    data_dir: Path


@pytest.fixture(scope="session")
def add_header_module(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("add-header") / "plugin.wasm"
    build_project(REPO_ROOT / "examples" / "add-header", out, sink=lambda _line: None)
    return out.read_bytes()


@pytest.fixture(scope="module")
def published_hub(tmp_path_factory: pytest.TempPathFactory, add_header_module: bytes
                  ) -> Iterator[PublishedHub]:
    base = tmp_path_factory.mktemp("deploy-hub")
    examples = base / "examples"
    sample = examples / "add-header"
    shutil.copytree(REPO_ROOT / "examples" / "add-header", sample,
                    ignore=shutil.ignore_patterns("build", "node_modules"))
    (sample / "build").mkdir()
    (sample / "build" / "plugin.wasm").write_bytes(add_header_module)
    data_dir = base / "data"
    hub = Hub.open(Settings(data_dir=data_dir))
    try:
        upgrade(hub.database)
        report = seed_samples(hub, examples)
    finally:
        hub.close()
    [(repository, tag, digest)] = report.published
    with running_wasmhub(data_dir) as server:
        yield PublishedHub(server, add_header_module, digest,
                           f"{server.host}/{repository}:{tag}", data_dir)
