"""A real ``wasmhub serve`` under the attacks of issue 8 keeps answering everyone else.

40 add-by-URL requests against upstreams that trickle their headers (one byte every
2 s) and alias-bomb plugin images: each attack fails with a clear error, and meanwhile
``/healthz``, the API, the UI and ``/v2/`` answer within a generous 5 s each.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.catalog.slow_upstream import slow_upstream
from tests.support.accounts import make_user, token_headers
from tests.support.hostile_images import RawImage, alias_bomb, with_plugin_yaml
from tests.support.servers import RunningServer, running_wasmhub
from wasmhub.hub import Hub
from wasmhub.settings import Settings

FETCH_TIMEOUT = 3
PROBE_TIMEOUT = 5.0  # generous for a loaded machine; the point is "answers at all"
ATTACKERS = 40


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[RunningServer]:
    env = {"WASMHUB_FETCH_TIMEOUT_SECONDS": str(FETCH_TIMEOUT),
           "WASMHUB_FETCH_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
    with running_wasmhub(tmp_path / "hub", database_url, extra_env=env) as server:
        yield server


@pytest.fixture
def user(served: RunningServer, tmp_path: Path, database_url: str) -> dict[str, str]:
    """A signed-up attacker: adding by URL needs an account. An API token, so that 40
    requests at once cost no password hashing (and no sign-in rate limit)."""
    hub = Hub.open(Settings(data_dir=tmp_path / "hub", database_url=database_url))
    try:
        make_user(hub, "mallory")
        return token_headers(hub, "mallory")
    finally:
        hub.close()


def probe_while(server: RunningServer, busy: Callable[[], bool]) -> int:
    """Probe the hub's surfaces until ``busy()`` is False; every probe must answer 200."""
    rounds = 0
    with httpx.Client(base_url=server.url, timeout=PROBE_TIMEOUT) as probe:
        while busy() or rounds == 0:
            for path in ("/healthz", "/api/v1/plugins", "/v2/_catalog", "/"):
                response = probe.get(path)
                assert response.status_code == 200, (path, response.text[:200])
            rounds += 1
    return rounds


def test_slow_upstreams_time_out_and_the_hub_keeps_answering(
    served: RunningServer, user: dict[str, str], web: str
) -> None:
    results: dict[int, tuple[int, str]] = {}

    def add(index: int) -> None:
        with httpx.Client(base_url=served.url, timeout=120.0) as client:
            response = client.post("/api/v1/plugins", headers=user, json={
                "url": f"{upstream}/slow-{index}.wasm", "name": f"slow-{index}",
                "display_name": {"en": f"Slow {index}"}, "description": {"en": "trickles"},
            })
        results[index] = (response.status_code, str(response.json().get("detail", "")))

    with slow_upstream() as (upstream, _server):
        threads = [threading.Thread(target=add, args=(i,)) for i in range(ATTACKERS)]
        for thread in threads:
            thread.start()
        rounds = probe_while(served, lambda: any(t.is_alive() for t in threads))
        for thread in threads:
            thread.join(timeout=120)
    assert rounds >= 1 and len(results) == ATTACKERS
    statuses = Counter(status for status, _ in results.values())
    # Each either ran into the deadline or was turned away by the import cap.
    assert set(statuses) <= {503, 504}, results
    assert statuses[504] >= 1, results
    for status, detail in results.values():
        if status == 504:
            assert f"within the {FETCH_TIMEOUT} s limit" in detail
        else:
            assert "max_concurrent_imports" in detail
    # The import slots are free again: an ordinary add succeeds.
    with httpx.Client(base_url=served.url, timeout=60.0) as client:
        ok = client.post("/api/v1/plugins", headers=user, json={
            "url": f"{web}/plugin.wasm", "name": "after",
            "display_name": {"en": "After"}, "description": {"en": "ok"}})
    assert ok.status_code == 201, ok.text


def push_raw(client: httpx.Client, repository: str, tag: str, image: RawImage) -> httpx.Response:
    for digest, data in image.blobs.items():
        r = client.post(f"/v2/{repository}/blobs/uploads/", params={"digest": digest},
                        content=data)
        assert r.status_code == 201, r.text
    return client.put(f"/v2/{repository}/manifests/{tag}", content=image.manifest,
                      headers={"Content-Type": image.media_type})


def test_alias_bombs_are_refused_and_the_hub_keeps_answering(served: RunningServer) -> None:
    text = alias_bomb(levels=6)
    assert len(text) < 1024  # a few hundred bytes that would expand to a 40 MB row
    bomb = with_plugin_yaml(text)
    answers: list[httpx.Response] = []

    def attack() -> None:
        with httpx.Client(base_url=served.url, timeout=120.0) as client:
            answers.extend(push_raw(client, f"sec/bomb-{i}", "1.0.0", bomb) for i in range(4))

    attacker = threading.Thread(target=attack)
    attacker.start()
    probe_while(served, attacker.is_alive)
    attacker.join(timeout=120)
    assert [r.status_code for r in answers] == [400] * 4
    for response in answers:
        error = response.json()["errors"][0]
        assert error["code"] == "MANIFEST_INVALID"
        assert "YAML aliases" in error["message"]
    with httpx.Client(base_url=served.url, timeout=PROBE_TIMEOUT) as client:
        assert client.get("/api/v1/plugins").json()["total"] == 0
        tags = client.get("/v2/sec/bomb-0/tags/list")
        assert tags.status_code in (200, 404) and not (tags.json().get("tags") or [])
