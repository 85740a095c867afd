"""``wasmhub seed`` and ``wasmhub catalog reindex`` through the real command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.catalog.modules import proxy_module
from tests.catalog.publish import plugin_yaml
from tests.support.servers import wasmhub_command
from wasmhub.catalog.seed import SamplesNotBuiltError, default_examples_dir, seed_samples
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import SearchQuery
from wasmhub.hub import Hub
from wasmhub.settings import Settings


def make_samples(root: Path) -> Path:
    built = root / "greeter"
    (built / "build").mkdir(parents=True)
    (built / "plugin.yaml").write_bytes(plugin_yaml("greeter", "0.3.0", en="Greeter",
                                                    zh="问候", keywords=("hello",)))
    (built / "README.md").write_text("# Greeter\n\nSays hello.")
    (built / "README.zh.md").write_text("# 问候\n")
    (built / "build" / "plugin.wasm").write_bytes(proxy_module())
    unbuilt = root / "unbuilt"
    unbuilt.mkdir()
    (unbuilt / "plugin.yaml").write_bytes(plugin_yaml("unbuilt", "0.1.0", en="Unbuilt"))
    return root


def test_seed_publishes_built_samples_and_names_the_rest(hub: Hub, tmp_path: Path) -> None:
    report = seed_samples(hub, make_samples(tmp_path / "examples"))
    assert [(r, t) for r, t, _ in report.published] == [("library/greeter", "0.3.0")]
    assert report.unbuilt == ["unbuilt"]
    detail = CatalogService(hub).get_plugin("library", "greeter")
    assert detail.summary.display_name.zh == "问候" and "Says hello" in detail.readme_html.en
    assert "问候" in detail.readme_html.zh
    again = seed_samples(hub, tmp_path / "examples")  # idempotent
    assert again.published == report.published


def test_seed_without_builds_says_how_to_build(hub: Hub, tmp_path: Path) -> None:
    root = make_samples(tmp_path / "examples")
    shutil.rmtree(root / "greeter" / "build")
    with pytest.raises(SamplesNotBuiltError) as caught:
        seed_samples(hub, root)
    assert "npm ci" in caught.value.message and "wasmhub build" in caught.value.message


def test_default_examples_dir_is_the_checkout() -> None:
    assert (default_examples_dir() / "README.md").is_file()


@pytest.mark.slow
def test_cli_seed_then_reindex(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "WASMHUB_DATA_DIR": str(settings.data_dir),
           "WASMHUB_DATABASE_URL": settings.effective_database_url}

    def wasmhub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*wasmhub_command(), *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    examples = make_samples(tmp_path / "examples")
    seeded = wasmhub("seed", "--examples", str(examples))
    assert seeded.returncode == 0, seeded.stderr
    assert "published library/greeter:0.3.0" in seeded.stdout
    assert "not built" in seeded.stderr and "unbuilt" in seeded.stderr
    reindexed = wasmhub("catalog", "reindex", "--json")
    assert reindexed.returncode == 0, reindexed.stderr
    assert json.loads(reindexed.stdout)["versions"] == 1
    hub = Hub.open(settings)
    try:
        assert CatalogService(hub).search(SearchQuery(q="greeter")).total == 1
    finally:
        hub.close()
    missing = wasmhub("seed", "--examples", str(tmp_path / "no"))
    assert missing.returncode == 1 and "no examples directory" in missing.stderr
