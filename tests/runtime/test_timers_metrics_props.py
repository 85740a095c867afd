"""Virtual clock and timers, metrics, properties, logging levels."""

# ruff: noqa: E501 - WAT snippets read best one host call per line

from __future__ import annotations

import struct

from tests.runtime.wat import RESULTS, cstr, module, read_returned, results
from wasmhub.runtime import HostConfig, HttpRequest, LogLevel, Plugin, Status
from wasmhub.runtime.model import DEFAULT_START_NS


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


def test_ticks_follow_the_virtual_clock() -> None:
    extra = "(global $ticks (mut i32) (i32.const 0))"
    plugin = Plugin(module({
        "proxy_on_configure": "(drop (call $proxy_set_tick_period_milliseconds "
                              "(i32.const 100))) (i32.const 1)",
        "proxy_on_tick": f"""(global.set $ticks (i32.add (global.get $ticks) (i32.const 1)))
            (call $rec (i32.const 0) (global.get $ticks))
            (drop (call $proxy_get_current_time_nanoseconds {slot(2)}))""",
    }, extra=extra))
    plugin.advance(99)
    assert results(plugin, 1) == [0]
    plugin.advance(1)
    assert results(plugin, 1) == [1]
    plugin.advance(250)
    assert results(plugin, 1) == [3]
    raw = plugin.vm.memory.read(RESULTS + 8, 8)
    assert struct.unpack("<Q", raw)[0] == DEFAULT_START_NS + 300 * 1_000_000
    assert plugin.now_ns == DEFAULT_START_NS + 350 * 1_000_000


def test_metrics_counter_gauge_histogram_and_errors() -> None:
    names = {0x100: b"hits", 0x120: b"depth", 0x140: b"sizes"}
    body = f"""
      (call $rec (i32.const 0) (call $proxy_define_metric (i32.const 0) {cstr(0x100, "hits")} {slot(10)}))
      (call $rec (i32.const 1) (call $proxy_define_metric (i32.const 1) {cstr(0x120, "depth")} {slot(11)}))
      (call $rec (i32.const 2) (call $proxy_define_metric (i32.const 2) {cstr(0x140, "sizes")} {slot(12)}))
      (call $rec (i32.const 3) (call $proxy_define_metric (i32.const 7) {cstr(0x140, "sizes")} {slot(13)}))
      (call $rec (i32.const 4) (call $proxy_increment_metric (i32.load {slot(10)}) (i64.const 2)))
      (call $rec (i32.const 5) (call $proxy_increment_metric (i32.load {slot(10)}) (i64.const -1)))
      (call $rec (i32.const 6) (call $proxy_record_metric (i32.load {slot(11)}) (i64.const 42)))
      (call $rec (i32.const 7) (call $proxy_record_metric (i32.load {slot(12)}) (i64.const 7)))
      (call $rec (i32.const 8) (call $proxy_increment_metric (i32.const 999) (i64.const 1)))
      (call $rec (i32.const 9) (call $proxy_get_metric (i32.load {slot(10)}) {slot(14)}))
      (call $rec (i32.const 16) (call $proxy_get_metric (i32.load {slot(12)}) {slot(18)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, data=names))
    plugin.http()
    plugin.http()
    status = results(plugin, 17)
    assert status[0:3] == [Status.OK] * 3
    assert status[3] == Status.BAD_ARGUMENT
    assert status[4:9] == [Status.OK, Status.BAD_ARGUMENT, Status.OK, Status.OK,
                           Status.NOT_FOUND]
    assert status[9] == Status.OK and status[14] == 4
    assert status[16] == Status.BAD_ARGUMENT  # histograms cannot be read back
    assert plugin.metrics == {"hits": 4, "depth": 42, "sizes": [7, 7]}


def test_properties_builtin_declared_and_set() -> None:
    paths = {0x100: b"request\0path", 0x140: b"source.port", 0x180: b"plugin_root_id",
             0x1c0: b"tenant", 0x200: b"no\0such", 0x240: b"my.prop", 0x280: b"x"}
    body = f"""
      (call $rec (i32.const 0) (call $proxy_get_property (i32.const 0x100) (i32.const 12) {slot(10)} {slot(11)}))
      (call $rec (i32.const 1) (call $proxy_get_property (i32.const 0x140) (i32.const 11) {slot(12)} {slot(13)}))
      (call $rec (i32.const 2) (call $proxy_get_property (i32.const 0x180) (i32.const 14) {slot(14)} {slot(15)}))
      (call $rec (i32.const 3) (call $proxy_get_property (i32.const 0x1c0) (i32.const 6) {slot(16)} {slot(17)}))
      (call $rec (i32.const 4) (call $proxy_get_property (i32.const 0x200) (i32.const 7) {slot(18)} {slot(19)}))
      (call $rec (i32.const 5) (call $proxy_set_property (i32.const 0x240) (i32.const 7) (i32.const 0x280) (i32.const 1)))
      (call $rec (i32.const 6) (call $proxy_get_property (i32.const 0x240) (i32.const 7) {slot(20)} {slot(21)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, data=paths),
                    HostConfig(root_id="rl", properties={"source.address": "10.0.0.1:5555",
                                                         "tenant": "acme"}))
    plugin.http(HttpRequest(path="/a?b=1"))
    status = results(plugin, 7)
    assert status == [Status.OK, Status.OK, Status.OK, Status.OK, Status.NOT_FOUND,
                      Status.OK, Status.OK]
    assert read_returned(plugin, 10) == b"/a?b=1"
    assert struct.unpack("<q", read_returned(plugin, 12))[0] == 5555
    assert read_returned(plugin, 14) == b"rl"
    assert read_returned(plugin, 16) == b"acme"
    assert read_returned(plugin, 20) == b"x"


def test_log_levels_and_get_log_level() -> None:
    body = f"""
      (drop (call $proxy_log (i32.const 1) {cstr(0x100, "debug")}))
      (drop (call $proxy_log (i32.const 4) {cstr(0x120, "error")}))
      (call $rec (i32.const 0) (call $proxy_get_log_level {slot(1)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body},
                           data={0x100: b"debug", 0x120: b"error"}),
                    HostConfig(log_level=LogLevel.INFO))
    result = plugin.http()
    assert [(e.level, e.message) for e in result.logs] == [(LogLevel.ERROR, "error")]
    assert results(plugin, 2) == [Status.OK, LogLevel.INFO]
