"""Download counts buffered in Redis by several replicas reach the catalog exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.catalog.publish import packed_plugin, push
from wasmhub.catalog.service import CatalogService
from wasmhub.hub import Hub
from wasmhub.ops.shared import redis_client
from wasmhub.registry.service import RegistryService
from wasmhub.settings import Settings

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def replicas(settings: Settings) -> Iterator[list[Hub]]:
    # A private key prefix: other test sessions share this Redis.
    buffered = settings.model_copy(update={
        "redis_url": REDIS, "redis_key_prefix": f"wasmhub-test-{uuid.uuid4().hex}:",
        "download_flush_seconds": 300.0,  # flushed by the test, not by the clock
    })
    hubs = [Hub.open(buffered), Hub.open(buffered)]
    yield hubs
    for hub in hubs:
        hub.close()
    client = redis_client(REDIS)
    leftovers = list(client.scan_iter(match=f"{buffered.redis_key_prefix}*"))
    assert leftovers == [], leftovers


def downloads(hub: Hub) -> int:
    return CatalogService(hub).get_plugin("team", "counted").summary.downloads


def test_pulls_on_two_replicas_are_counted_once_each(replicas: list[Hub]) -> None:
    a, b = replicas
    push(a, "team/counted", "1.0.0", packed_plugin("counted", "1.0.0", en="Counted"))
    for hub, pulls in ((a, 5), (b, 7)):
        for _ in range(pulls):
            RegistryService(hub).fetch_manifest("team/counted", "1.0.0")
    assert downloads(a) == 0  # buffered in Redis, not yet in the database
    a.close()  # a replica stopping flushes everything buffered (by any replica)
    assert downloads(b) == 12
    RegistryService(b).fetch_manifest("team/counted", "1.0.0")
    b.close()
    hub = Hub.open(b.settings)
    try:
        assert downloads(hub) == 13
    finally:
        hub.close()


def test_a_batch_left_by_a_dead_flusher_is_applied(replicas: list[Hub]) -> None:
    a, b = replicas
    push(a, "team/counted", "1.0.0", packed_plugin("counted", "1.0.0", en="Counted"))
    for _ in range(3):
        RegistryService(a).fetch_manifest("team/counted", "1.0.0")
    prefix = a.settings.redis_key_prefix
    client = redis_client(REDIS)
    # A replica renamed the pending counts to its batch, then died before applying it.
    client.rename(f"{prefix}downloads:pending", f"{prefix}downloads:batch:dead")
    RegistryService(b).fetch_manifest("team/counted", "1.0.0")
    b.close()
    assert downloads(a) == 4
