"""One analysis per push, bounded unpacking (issue 8 finding 4), on both databases."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.catalog.modules import proxy_module
from tests.catalog.publish import packed_plugin, push
from tests.catalog.test_add_by_url import registration
from tests.support.hostile_images import RawImage, with_plugin_layer, zero_tar_gz
from tests.support.wasm_bytes import leb_u32
from wasmhub.catalog.service import CatalogService
from wasmhub.events import Event, ManifestPushed
from wasmhub.hub import Hub
from wasmhub.oci.errors import ManifestInvalid
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings
from wasmhub.wasm import ImageLayout, pack, registry_hook

MiB = 1024 * 1024


@pytest.fixture
def unpacks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts every unpack of a plugin image (the costly part of an analysis)."""
    seen = {"calls": 0}
    real = registry_hook.unpack

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen["calls"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(registry_hook, "unpack", counting)
    return seen


def push_raw(hub: Hub, repository: str, image: RawImage, tag: str = "1.0.0") -> str:
    registry = RegistryService(hub)
    for digest, data in image.blobs.items():
        registry.put_blob(repository, data, digest)
    return registry.put_manifest(repository, tag, image.manifest, image.media_type)


def peak_memory(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_add_by_url_unpacks_the_image_once(hub: Hub, web: str, unpacks: dict[str, int]) -> None:
    detail = CatalogService(hub).add_by_url(registration(f"{web}/plugin.wasm", name="once"))
    assert unpacks["calls"] == 1
    assert detail.summary.abi_version == "0.2.1" and detail.versions[0].tag == "1.0.0"


def test_a_push_is_analysed_once_and_its_event_carries_the_analysis(
    hub: Hub, unpacks: dict[str, int]
) -> None:
    events: list[Event] = []
    hub.events.subscribe(events.append)
    digest = push(hub, "acme/once", "1.0.0", packed_plugin("once", en="Once"))
    assert unpacks["calls"] == 1
    pushed = [e for e in events if isinstance(e, ManifestPushed)]
    assert len(pushed) == 1 and pushed[0].digest == digest
    assert pushed[0].analysis is not None and pushed[0].analysis.layout is ImageLayout.COMPAT
    assert CatalogService(hub).get_version("acme", "once", "1.0.0").display_name.en == "Once"


def test_a_decompression_bomb_is_refused_within_bounded_memory(hub: Hub) -> None:
    # 300 KB that unpack to 300 MB, in 300 files of 1 MB: no single header is too big,
    # so only the streaming limit (max_module_bytes, 32 MiB by default) stops it.
    bomb = with_plugin_layer(zero_tar_gz(300 * MiB, members=300))
    assert sum(len(b) for b in bomb.blobs.values()) < MiB
    caught: list[ManifestInvalid] = []

    def attempt() -> None:
        with pytest.raises(ManifestInvalid) as error:
            push_raw(hub, "sec/bomb", bomb)
        caught.append(error.value)

    peak = peak_memory(attempt)
    assert "unpacks to more than" in caught[0].message
    assert peak < 3 * hub.settings.max_module_bytes  # the limit plus copies, not 300 MB
    assert RegistryService(hub).list_tags("sec/bomb") == []


def test_a_member_larger_than_the_limit_is_refused_unread(hub: Hub) -> None:
    bomb = with_plugin_layer(zero_tar_gz(300 * MiB, members=1))
    caught: list[ManifestInvalid] = []

    def attempt() -> None:
        with pytest.raises(ManifestInvalid) as error:
            push_raw(hub, "sec/one", bomb)
        caught.append(error.value)

    assert peak_memory(attempt) < 4 * MiB
    assert "'plugin.wasm' of 314572800 bytes" in caught[0].message


def padded_module(extra: int) -> bytes:
    """The proxy module plus a custom section of ``extra`` bytes (still valid Wasm)."""
    name = b"padding"
    payload = leb_u32(len(name)) + name + bytes(extra)
    return proxy_module() + b"\x00" + leb_u32(len(payload)) + payload


@pytest.fixture
def small_limit(settings: Settings) -> Iterator[Hub]:
    hub = Hub.open(settings.model_copy(update={"max_module_bytes": MiB}))
    yield hub
    hub.close()


@pytest.mark.parametrize("layout", [ImageLayout.COMPAT, ImageLayout.CNCF, ImageLayout.OCI])
def test_a_module_over_max_module_bytes_is_refused(small_limit: Hub, layout: ImageLayout) -> None:
    big = pack(padded_module(MiB + 1), layout)
    with pytest.raises(ManifestInvalid, match="bytes") as caught:
        push(small_limit, "sec/big", "1.0.0", big)
    assert str(MiB) in caught.value.message
    fits = pack(padded_module(MiB // 2), layout)
    push(small_limit, "sec/fits", "1.0.0", fits)
    assert CatalogService(small_limit).get_version("sec", "fits", "1.0.0").module_size > MiB // 2


def test_parallel_bombs_unpack_at_most_max_concurrent_unpacks_at_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 4 * MiB
    hub = Hub.open(settings.model_copy(update={
        "max_module_bytes": limit, "max_concurrent_unpacks": 2}))
    inflight = {"now": 0, "max": 0}
    lock = threading.Lock()
    real = registry_hook.unpack

    def tracked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            inflight["now"] += 1
            inflight["max"] = max(inflight["max"], inflight["now"])
        try:
            time.sleep(0.2)  # widens the window in which unbounded unpacks would overlap
            return real(*args, **kwargs)
        finally:
            with lock:
                inflight["now"] -= 1

    monkeypatch.setattr(registry_hook, "unpack", tracked)
    bombs = [with_plugin_layer(zero_tar_gz(64 * MiB, members=64, seed=str(i))) for i in range(6)]
    registry = RegistryService(hub)
    for index, bomb in enumerate(bombs):
        for digest, data in bomb.blobs.items():
            registry.put_blob(f"sec/bomb-{index}", data, digest)
    refused: list[str] = []
    start = threading.Barrier(len(bombs))

    def attack(index: int) -> None:
        start.wait(timeout=60)
        try:
            registry.put_manifest(f"sec/bomb-{index}", "1.0.0", bombs[index].manifest,
                                  bombs[index].media_type)
        except ManifestInvalid as exc:
            refused.append(exc.message)

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(len(bombs))]
    try:
        peak = peak_memory(lambda: ([t.start() for t in threads], [t.join(60) for t in threads]))
    finally:
        hub.close()
    assert len(refused) == len(bombs) and all("unpacks to more than" in m for m in refused)
    assert inflight["max"] <= 2
    assert peak < 2 * (limit + 2 * MiB) + 4 * MiB  # two unpacks' worth, not six


def test_an_unchecked_long_root_id_is_stored_cut_to_its_column(hub: Hub) -> None:
    # Root ids from runtime-config.json are not plugin.yaml's (checked) field: a
    # 1000-character one must still index (PostgreSQL refused the row before).
    push(hub, "sec/long-root", "1.0.0", pack(proxy_module(), root_ids=("r" * 1000,)))
    version = CatalogService(hub).get_version("sec", "long-root", "1.0.0")
    assert version.root_id == "r" * 255
