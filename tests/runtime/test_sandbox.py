"""Traps, deadlines and the memory cap, with fail-open and fail-closed."""

from __future__ import annotations

import pytest

from tests.runtime.wat import module, results
from wasmhub.runtime import FailStrategy, HostConfig, ModuleLoadError, Plugin

LOOP = "(loop $forever (br $forever)) (i32.const 0)"


@pytest.mark.parametrize("callback", ["proxy_on_request_headers", "proxy_on_response_headers"])
def test_trap_fail_closed_answers_503(callback: str) -> None:
    plugin = Plugin(module({callback: "(unreachable)"}))
    result = plugin.http()
    assert result.failure is not None
    assert result.failure.callback == callback
    assert "unreachable" in result.failure.message
    assert result.status == 503 and result.local_reply is not None
    assert result.local_reply.details == "wasm_fail_stream"
    assert any("Plugin Crash" in entry.message for entry in result.logs)
    # The VM stays failed: later requests are refused without calling the plugin.
    again = plugin.http()
    assert again.status == 503 and again.guest_calls == 0 and not again.reached_upstream


def test_trap_fail_open_passes_through() -> None:
    plugin = Plugin(module({"proxy_on_request_headers": "(unreachable)"}),
                    HostConfig(fail_strategy=FailStrategy.FAIL_OPEN))
    result = plugin.http()
    assert result.failure is not None
    assert result.status == 200 and result.reached_upstream
    assert plugin.http().status == 200


def test_infinite_loop_hits_the_deadline_fail_closed() -> None:
    plugin = Plugin(module({"proxy_on_request_headers": LOOP}),
                    HostConfig(callback_timeout_ms=20))
    result = plugin.http()
    assert result.failure is not None and result.failure.timed_out
    assert result.failure.callback == "proxy_on_request_headers"
    assert "interrupt" in result.failure.message
    assert result.status == 503


def test_infinite_loop_fail_open() -> None:
    plugin = Plugin(module({"proxy_on_response_headers": LOOP}),
                    HostConfig(callback_timeout_ms=20, fail_strategy=FailStrategy.FAIL_OPEN))
    result = plugin.http()
    assert result.failure is not None and result.failure.timed_out
    assert result.status == 200


def test_memory_cap_makes_grow_fail() -> None:
    body = "(call $rec (i32.const 0) (memory.grow (i32.const 100))) (i32.const 0)"
    plugin = Plugin(module({"proxy_on_request_headers": body}),
                    HostConfig(memory_limit_bytes=4 << 16))
    plugin.http()
    assert results(plugin, 1) == [-1]


def test_memory_cap_below_initial_memory_refuses_the_module() -> None:
    with pytest.raises(ModuleLoadError, match="cannot instantiate"):
        Plugin(module(memory_pages=20), HostConfig(memory_limit_bytes=4 << 16))


def test_the_vm_budget_caps_callbacks_below_their_own_deadline() -> None:
    # The per-callback deadline alone would let this loop run for ten minutes.
    plugin = Plugin(module({"proxy_on_request_headers": LOOP}),
                    HostConfig(callback_timeout_ms=600_000, cpu_budget_ms=50))
    result = plugin.http()
    assert result.failure is not None and result.failure.timed_out
    assert result.status == 503
