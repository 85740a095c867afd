"""Racing writers leave the catalog equal to the registry (issue 8 finding 5).

16 threads push different manifests to one tag at once, or first pushes of 16 tags to a
new repository; on SQLite and PostgreSQL the catalog must end on exactly what the
registry holds, and no event subscriber may fail.
"""

from __future__ import annotations

import logging
import threading

import pytest

from tests.catalog.publish import packed_plugin
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.wasm import PackedImage

WRITERS = 16
ROUNDS = 3


def race(pushes: list[tuple[str, str, PackedImage]], registry: RegistryService) -> None:
    for repository, _tag, image in pushes:
        for blob in image.blobs():
            registry.put_blob(repository, blob.data, blob.digest)
    start = threading.Barrier(len(pushes))
    failures: list[BaseException] = []

    def write(repository: str, tag: str, image: PackedImage) -> None:
        start.wait(timeout=60)
        try:
            registry.push_manifest(repository, tag, image.manifest, image.manifest_media_type)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=push) for push in pushes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures


def subscriber_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "event subscriber" in r.getMessage()]


def test_racing_pushes_of_one_tag_leave_the_catalog_on_the_registrys_digest(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    registry = RegistryService(hub)
    catalog = CatalogService(hub)
    for round_ in range(ROUNDS):
        images = {
            image.digest: image for image in (
                packed_plugin("race", "1.0.0", en=f"Race {round_}-{i}",
                              readme=f"# Writer {round_}-{i}")
                for i in range(WRITERS)
            )
        }
        assert len(images) == WRITERS
        race([("sec/race", "1.0.0", image) for image in images.values()], registry)
        held = registry.fetch_manifest("sec/race", "1.0.0", with_payload=False).digest
        version = catalog.get_version("sec", "race", "1.0.0")
        assert version.version.digest == held
        winner = images[held]
        assert version.display_name.en == f"Race {winner_name(winner)}"
        assert f"Writer {winner_name(winner)}" in version.readme_html.en
        assert [v.tag for v in catalog.list_versions("sec", "race")] == ["1.0.0"]
    assert subscriber_failures(caplog) == []


def winner_name(image: PackedImage) -> str:
    readme = next(blob.data for blob in image.layers if blob.data.startswith(b"# Writer "))
    return readme.decode().removeprefix("# Writer ").strip()


def test_concurrent_first_pushes_to_a_new_repository_are_all_indexed(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    registry = RegistryService(hub)
    catalog = CatalogService(hub)
    for round_ in range(ROUNDS):
        repository = f"sec/fresh-{round_}"
        tags = [f"1.{i}.0" for i in range(WRITERS)]
        race([(repository, tag, packed_plugin(f"fresh-{round_}", tag, en=f"Fresh {tag}"))
              for tag in tags], registry)
        assert sorted(registry.list_tags(repository)) == sorted(tags)
        indexed = {v.tag: v.digest for v in catalog.list_versions("sec", f"fresh-{round_}")}
        assert sorted(indexed) == sorted(tags)
        for tag in tags:
            assert indexed[tag] == registry.fetch_manifest(
                repository, tag, with_payload=False).digest
        # The plugin shows its highest version, whatever order the pushes landed in.
        assert catalog.get_plugin("sec", f"fresh-{round_}").summary.latest_version == "1.15.0"
    assert subscriber_failures(caplog) == []
