"""Against a real ``wasmhub serve --workers 2``: metrics aggregated over the workers
(prometheus multiprocess mode), JSON logs with request ids, graceful shutdown that lets
an in-flight upload finish."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import running_wasmhub, wait_until_up


def _v2_base_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "wasmhub_http_requests_total"
                    and sample.labels == {"route": "v2_base", "method": "GET", "status": "401"}):
                return sample.value
    return 0.0


def test_metrics_and_json_logs_across_workers(tmp_path: Path, database_url: str) -> None:
    env = {"WASMHUB_WORKERS": "2", "WASMHUB_LOG_FORMAT": "json", "WASMHUB_LOG_LEVEL": "debug"}
    with running_wasmhub(tmp_path / "data", database_url, extra_env=env) as server:
        before = _v2_base_count(httpx.get(server.url + "/metrics", timeout=30).text)
        for n in range(20):
            # A fresh connection each time, so the kernel spreads them over both workers.
            response = httpx.get(server.url + "/v2/", headers={"X-Request-ID": f"probe-{n}"},
                                 timeout=30)
            assert response.headers["X-Request-ID"] == f"probe-{n}"
        # Whichever worker answers the scrape, it reports both workers' requests.
        for _ in range(6):
            scraped = httpx.get(server.url + "/metrics", timeout=30).text
            assert _v2_base_count(scraped) - before == 20
        log = server.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    probes = [r for r in records if str(r.get("request_id", "")).startswith("probe-")]
    assert {r["request_id"] for r in probes} == {f"probe-{n}" for n in range(20)}
    access = [r for r in probes if r["logger"] == "wasmhub.access"]
    # Anonymous GET /v2/ is the token-auth challenge (401), counted like any answer.
    assert all(r["path"] == "/v2/" and r["status"] == 401 and r["level"] == "debug"
               for r in access)


def _slow_body(first: bytes, rest: bytes, started: threading.Event,
               go_on: threading.Event) -> Iterator[bytes]:
    yield first
    started.set()
    go_on.wait(60)
    yield rest


def test_sigterm_lets_an_in_flight_upload_finish(tmp_path: Path, database_url: str) -> None:
    data = os.urandom(3 * 1024 * 1024)
    with running_wasmhub(tmp_path / "data", database_url) as server:
        location = httpx.post(server.url + "/v2/g/s/blobs/uploads/", timeout=30).headers[
            "Location"]
        started, go_on = threading.Event(), threading.Event()
        result: dict[str, httpx.Response] = {}

        def upload() -> None:
            result["r"] = httpx.patch(
                server.url + location, timeout=120,
                content=_slow_body(data[:1024 * 1024], data[1024 * 1024:], started, go_on),
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(len(data))},
            )

        sender = threading.Thread(target=upload)
        sender.start()
        assert started.wait(60)
        server.process.send_signal(signal.SIGTERM)
        # The server is draining: no new connections, the running request goes on.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(server.url + "/healthz", timeout=1)
                time.sleep(0.05)
            except httpx.TransportError:
                break
        else:
            raise AssertionError("the server kept accepting connections after SIGTERM")
        go_on.set()
        sender.join(120)
        assert result["r"].status_code == 202, result["r"].text
        assert result["r"].headers["Range"] == f"0-{len(data) - 1}"
        # uvicorn ends by re-raising the signal it drained on.
        assert server.process.wait(60) in (0, -signal.SIGTERM)
    # A restarted server finds the whole chunk.
    with running_wasmhub(tmp_path / "data", database_url) as again:
        wait_until_up(again)
        status = httpx.get(again.url + location, timeout=30)
        assert status.status_code == 204
        assert status.headers["Range"] == f"0-{len(data) - 1}"
