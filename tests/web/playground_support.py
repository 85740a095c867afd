"""Real plugin images for the playground tests: the rate-limit sample built from source
and a hand-made module whose request-headers callback never returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalog.publish import plugin_yaml, push
from tests.runtime.wat import module
from wasmhub.build import build_project
from wasmhub.hub import Hub
from wasmhub.wasm import PluginFiles, pack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOOP = "(loop $forever (br $forever)) (i32.const 0)"
# The rate-limit sample's own example configuration, with a quota of 2 for free users.
RATE_LIMIT_CONFIG = {"user_header": "x-user", "plan_header": "x-plan",
                     "users": {"alice": "pro"}, "default_plan": "free",
                     "plans": {"free": 2, "pro": 100}, "window_seconds": 60}


@pytest.fixture(scope="session")
def rate_limit_wasm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("playground") / "rate-limit.wasm"
    build_project(EXAMPLES / "rate-limit", out, sink=lambda _line: None)
    return out.read_bytes()


def publish_rate_limit(hub: Hub, wasm: bytes) -> str:
    sample = EXAMPLES / "rate-limit"
    files = PluginFiles(plugin_yaml=(sample / "plugin.yaml").read_bytes())
    return push(hub, "library/rate-limit", "0.1.0",
                pack(wasm, metadata=files, root_ids=("rate_limit",)))


def publish_spinner(hub: Hub) -> str:
    files = PluginFiles(plugin_yaml=plugin_yaml("spinner", "1.0.0", en="Spinner"))
    wasm = module({"proxy_on_request_headers": LOOP})
    return push(hub, "library/spinner", "1.0.0", pack(wasm, metadata=files))
