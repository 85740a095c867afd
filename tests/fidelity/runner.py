"""Runs scenarios through Envoy and the local runtime, two at a time (the machine has two
cores; each Envoy compiles its module with V8, which dominates the time)."""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tests.fidelity.scenarios import random_log
from wasmhub.runtime.differential import (
    Observation,
    Scenario,
    compare,
    observe_envoy,
    observe_local,
)

WORKERS = 2


@dataclass
class Outcome:
    name: str
    envoy: Observation
    local: Observation
    differences: list[str]

    @property
    def identical(self) -> bool:
        return not self.differences


def _derandomise(observation: Observation, pattern: str) -> None:
    """Test-data normalisation for a module that logs random values on purpose."""
    if not pattern:
        return
    regex = re.compile(pattern)
    for exchange in observation.exchanges:
        exchange.logs = [regex.sub("<random>", line) for line in exchange.logs]
        if exchange.upstream is not None:
            exchange.upstream["headers"] = [(key, regex.sub("<random>", value))
                                            for key, value in exchange.upstream["headers"]]


def run_one(name: str, scenario: Scenario) -> Outcome:
    envoy = observe_envoy(scenario)
    local = observe_local(scenario, envoy)
    for observation in (envoy, local):
        _derandomise(observation, random_log(name))
    return Outcome(name, envoy, local, compare(envoy, local))


def submit_all(pool: ThreadPoolExecutor, scenarios: dict[str, Scenario]
               ) -> dict[str, Future[Outcome]]:
    # The slowest first (big modules take V8 longest), so the batch ends sooner.
    order = sorted(scenarios, key=lambda n: -scenarios[n].module.stat().st_size)
    return {name: pool.submit(run_one, name, scenarios[name]) for name in order}


def run_all(scenarios: dict[str, Scenario]) -> dict[str, Outcome]:
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="fidelity") as pool:
        futures = submit_all(pool, scenarios)
        return {name: futures[name].result() for name in scenarios}
