"""A plugin's config schema is untrusted: a catastrophic ``pattern`` cannot stall the hub.

``^(a+)+$`` against 30 ``a`` and a ``!`` backtracks for minutes in Python's ``re``. The
config form's POST must come back with a clear error within the evaluator's limit, and
``/healthz`` must keep answering meanwhile (measured with a deadline generous for a
loaded machine, not a tight timing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.support.servers import serving_in_thread
from tests.web.seed import version
from wasmhub.app import create_app
from wasmhub.catalog.service import CatalogService
from wasmhub.config_schema import SchemaEvaluationError, SchemaEvaluator
from wasmhub.hub import Hub
from wasmhub.settings import Settings

EVIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "title": "Name", "pattern": "^(a+)+$"}},
}
EVIL_INPUT = "a" * 30 + "!"
HEALTH_DEADLINE = 5.0


@pytest.fixture
def evil_hub(settings: Settings) -> Iterator[Hub]:
    hub = Hub.open(settings.model_copy(update={"config_schema_timeout_seconds": 2.0}))
    record = version("acme/add-header", "1.0.0", 0)
    CatalogService(hub).record_version(
        replace(record, config_schema=EVIL_SCHEMA, example_config={"name": "aaa"})
    )
    yield hub
    hub.close()


def test_evaluator_stops_a_backtracking_pattern_and_recovers() -> None:
    evaluator = SchemaEvaluator(timeout=2.0, workers=1)
    try:
        assert evaluator.validate(EVIL_SCHEMA, {"name": "aaaa"}) == []
        with pytest.raises(SchemaEvaluationError, match="took longer than 2 s"):
            evaluator.validate(EVIL_SCHEMA, {"name": EVIL_INPUT})
        # The stuck worker was replaced: the next evaluation works and finds the error.
        problems = evaluator.validate(EVIL_SCHEMA, {"name": "b"})
        assert [p.keyword for p in problems] == ["pattern"]
    finally:
        evaluator.close()


def test_config_form_with_redos_pattern_keeps_the_hub_answering(
    settings: Settings, evil_hub: Hub
) -> None:
    app = create_app(evil_hub.settings, evil_hub)
    with serving_in_thread(app, "hub-redos") as url:
        page = f"{url}/plugins/acme/add-header"
        # Warm up: the evaluator's worker starts on first use (slow on a busy machine).
        assert httpx.get(page, timeout=120).status_code == 200
        outcome: dict[str, httpx.Response] = {}

        def attack() -> None:
            outcome["post"] = httpx.post(page, data={"cfg/name": EVIL_INPUT}, timeout=120)

        attacker = threading.Thread(target=attack)
        attacker.start()
        slowest = 0.0
        answered = 0
        while attacker.is_alive():
            started = time.monotonic()
            r = httpx.get(f"{url}/healthz", timeout=HEALTH_DEADLINE)
            assert r.status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            answered += 1
            time.sleep(0.05)
        attacker.join()
        assert answered >= 1 and slowest < HEALTH_DEADLINE
        post = outcome["post"]
        assert post.status_code == 200
        assert "took longer than 2 s" in post.text
        # The form still works for an ordinary value afterwards.
        ok = httpx.post(page, data={"cfg/name": "aaaa"}, timeout=120)
        assert ok.status_code == 200 and "took longer" not in ok.text
        assert "does not match" not in ok.text
