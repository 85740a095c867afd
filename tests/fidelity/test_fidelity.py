"""Every module of ../shared/corpus and every sample behaves in the local runtime exactly
as in a real Envoy 1.40: load outcome (and the stage and plugin log lines of a refusal),
status, response headers and body, what the upstream received, the plugin's log lines.
Only what a proxy adds by itself is normalised (see wasmhub.runtime.differential).

The scenarios run two at a time in a session pool as soon as the first test asks; each
test waits for its own module. The per-test timeout covers waiting behind the others on
a loaded machine (V8 takes 10-40 s for a 3 MB Go module there).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fidelity.runner import WORKERS, Outcome, submit_all
from tests.fidelity.scenarios import (
    CORPUS,
    KNOWN_DIFFERENCES,
    SAMPLES,
    corpus_scenarios,
    sample_scenario,
)

pytestmark = pytest.mark.slow

NAMES = [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[name]))
    if name in KNOWN_DIFFERENCES else name
    for name in [*corpus_scenarios(), *(f"examples/{sample}" for sample in SAMPLES)]
]


@pytest.fixture(scope="session")
def outcomes(built_samples: dict[str, Path]) -> Iterator[dict[str, Future[Outcome]]]:
    scenarios = corpus_scenarios()
    for name, module in built_samples.items():
        scenarios[name] = sample_scenario(name.split("/", 1)[1], module)
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="fidelity")
    try:
        yield submit_all(pool, scenarios)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def test_the_corpus_is_there() -> None:
    assert len(list(CORPUS.glob("*/*.wasm"))) >= 39, f"expected the corpus at {CORPUS}"


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("name", NAMES)
def test_module_behaves_as_in_envoy(name: str, outcomes: dict[str, Future[Outcome]]) -> None:
    outcome = outcomes[name].result(timeout=1400)
    assert outcome.differences == [], "\n".join(outcome.differences)
    if outcome.envoy.loaded:  # every request was answered (or stalled) in both hosts
        assert len(outcome.envoy.exchanges) == len(outcome.local.exchanges) > 0
    else:  # refused at the same stage, and the refusal says why
        assert outcome.local.reason and outcome.envoy.stage == outcome.local.stage
