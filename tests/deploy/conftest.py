"""Deploy fixtures: the add-header sample built from source and published in a real
``wasmhub serve`` process (its own data dir, SQLite), and a Kubernetes API: the
in-process fake, or a real cluster when ``WASMHUB_TEST_KUBECONFIG`` is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.servers import REPO_ROOT, RunningServer, running_wasmhub, serving_in_thread
from wasmhub.build import build_project
from wasmhub.catalog.seed import seed_samples
from wasmhub.db.migrate import upgrade
from wasmhub.deploy.kube import Cluster
from wasmhub.hub import Hub
from wasmhub.settings import Settings

from .fake_kube import UNVALIDATED, FakeKube, kubeconfig_for, vendored_types


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


REAL = os.environ.get("WASMHUB_TEST_KUBECONFIG")
NS = "wasmhub-test"


@dataclass
class Api:
    cluster: Cluster
    fake: FakeKube | None  # None against a real cluster


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    if REAL:
        yield Api(Cluster.connect(Path(REAL)), None)
        return
    fake = FakeKube(vendored_types() + UNVALIDATED)
    fake.add_pod(NS, "web-1", {"app": "web"})
    fake.add_pod(NS, "web-2", {"app": "web", "version": "v2"})
    fake.add_pod(NS, "db-1", {"app": "db"})
    with serving_in_thread(fake.app(), "fake-kube") as url:
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_for(url)))
        yield Api(Cluster.connect(path), fake)
