"""Download counting is done in SQL, so concurrent pulls all count."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.catalog.publish import packed_plugin, push
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub


def test_concurrent_downloads_all_count(hub: Hub) -> None:
    digest = push(hub, "acme/counted", "1.0.0", packed_plugin("counted", en="Counted"))
    catalog = CatalogService(hub)
    threads, each = 8, 5

    def pull_many(_: int) -> int:
        return sum(catalog.count_download("acme/counted", digest, "1.0.0") for _ in range(each))

    with ThreadPoolExecutor(threads) as pool:
        counted = sum(pool.map(pull_many, range(threads)))
    assert counted == threads * each
    plugin = catalog.get_plugin("acme", "counted")
    assert plugin.summary.downloads == threads * each
    assert plugin.versions[0].downloads == threads * each


def test_pull_by_digest_counts_every_tag_of_it_and_strangers_count_nothing(hub: Hub) -> None:
    digest = push(hub, "acme/twice", "1.0.0", packed_plugin("twice", en="Twice"))
    push(hub, "acme/twice", "latest", packed_plugin("twice", en="Twice"))
    catalog = CatalogService(hub)
    assert catalog.count_download("acme/twice", digest, digest)
    assert not catalog.count_download("acme/unknown", digest, "1.0.0")
    assert not catalog.count_download("acme/twice", "sha256:" + "0" * 64, "1.0.0")
    detail = catalog.get_plugin("acme", "twice")
    assert detail.summary.downloads == 1
    assert sorted(v.downloads for v in detail.versions) == [1, 1]
