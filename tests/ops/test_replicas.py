"""Several replicas (separate Hubs on one database and one blob store) pushing into the
same plugin at the same moment: the catalog indexes each push exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.catalog.publish import packed_plugin
from wasmhub.catalog.models import CatalogPlugin, CatalogVersion
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings

REPLICAS = 3


@pytest.fixture
def replicas(settings: Settings) -> Iterator[list[Hub]]:
    hubs = [Hub.open(settings) for _ in range(REPLICAS)]
    yield hubs
    for hub in hubs:
        hub.close()


def _push_all_at_once(hubs: list[Hub], jobs: list[tuple[str, str]]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def push(n: int, repository: str, tag: str) -> None:
        try:
            image = packed_plugin(repository.rpartition("/")[2], tag, en=f"v{tag}")
            registry = RegistryService(hubs[n % len(hubs)])
            for blob in image.blobs():
                registry.put_blob(repository, blob.data, blob.digest)
            barrier.wait(60)
            registry.put_manifest(repository, tag, image.manifest, image.manifest_media_type)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n, repo, tag))
               for n, (repo, tag) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def _catalog(hub: Hub) -> tuple[int, list[tuple[str, str]]]:
    with hub.database.session() as session:
        plugins = session.scalar(select(func.count()).select_from(CatalogPlugin)) or 0
        versions = sorted((repo, tag) for repo, tag in session.execute(
            select(CatalogPlugin.repository, CatalogVersion.tag)
            .join(CatalogVersion, CatalogVersion.plugin_id == CatalogPlugin.id)
        ))
    return plugins, versions


def test_concurrent_pushes_to_one_new_plugin_are_each_indexed_once(
    replicas: list[Hub], caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [(f"race/p{r}", f"1.0.{t}") for r in range(3) for t in range(4)]
    assert _push_all_at_once(replicas, jobs) == []
    assert not [r for r in caplog.records if "subscriber" in r.getMessage()], \
        "an event subscriber failed: a push was not indexed"
    plugins, versions = _catalog(replicas[0])
    assert plugins == 3
    assert versions == sorted(jobs)
    # Latest version on the plugin row is computed from all of them, whoever came last.
    with replicas[0].database.session() as session:
        rows = session.execute(
            select(CatalogPlugin.repository, CatalogPlugin.latest_version)).all()
    latest = dict(rows)
    assert latest == {f"race/p{r}": "1.0.3" for r in range(3)}


def test_the_same_tag_pushed_through_two_replicas_is_one_version(replicas: list[Hub]) -> None:
    jobs = [("race/same", "2.0.0")] * REPLICAS
    assert _push_all_at_once(replicas, jobs) == []
    plugins, versions = _catalog(replicas[1])
    assert plugins == 1 and versions == [("race/same", "2.0.0")]
