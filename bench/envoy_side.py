"""The Envoy side of bench/runtime.py: the same filter in a real Envoy 1.40 (V8, one
worker) in front of a direct-response upstream (a second Envoy answering 200 itself),
loaded with wrk over loopback; and the same Envoy without the filter, so the filter's own
per-request cost in Envoy is (1/with - 1/without).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wasmhub.runtime import HostConfig
from wasmhub.runtime.envoy import EnvoyFilter, EnvoyHost, direct_response

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


@dataclass
class EnvoyFigure:
    module: str
    with_filter: float  # req/s
    without_filter: float
    filter_us: float  # Envoy's per-request cost of the filter

    @property
    def ratio_note(self) -> str:
        return f"{self.with_filter:,.0f} req/s with the filter, {self.without_filter:,.0f} without"


def wrk(port: int, seconds: int, connections: int) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", "x-user: user-1",
               "-H", "user-agent: bench", f"http://127.0.0.1:{port}/api/items?page=1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=True)
    found = _RPS.search(done.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no rate: {done.stdout}{done.stderr}")
    return float(found.group(1))


def available() -> bool:
    from wasmhub.runtime.envoy import find_envoy

    return shutil.which("wrk") is not None and find_envoy() is not None


def measure_envoy(name: str, module: Path, config: HostConfig, *, seconds: int = 10,
                  connections: int = 16) -> EnvoyFigure:
    plugin = EnvoyFilter(module, "http", config.plugin_config, config.vm_config,
                         dict(config.vm_env), config.root_id, "bench", config.plugin_name)
    with EnvoyHost(None, 0, config=direct_response(), log_level="warning") as upstream:
        with EnvoyHost(None, upstream.port, log_level="warning") as bare:
            wrk(bare.port, 2, connections)  # warm up
            without = wrk(bare.port, seconds, connections)
        with EnvoyHost(plugin, upstream.port, log_level="info") as proxy:
            wrk(proxy.port, 2, connections)
            with_filter = wrk(proxy.port, seconds, connections)
    cost = (1 / with_filter - 1 / without) * 1e6
    return EnvoyFigure(name, with_filter, without, cost)
