"""WASI under both module names, and network (TCP) filters."""

# ruff: noqa: E501 - WAT snippets read best one host call per line

from __future__ import annotations

import struct

import pytest

from tests.runtime.wat import RESULTS, module, results
from wasmhub.runtime import HostConfig, LogLevel, Plugin
from wasmhub.runtime.abi import Errno


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


@pytest.mark.parametrize("wasi", ["wasi_snapshot_preview1", "wasi_unstable"])
def test_wasi_basics(wasi: str) -> None:
    iov = struct.pack("<II", 0x100, 12)
    body = f"""
      (call $rec (i32.const 0) (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 1) {slot(10)}))
      (call $rec (i32.const 1) (call $fd_write (i32.const 2) (i32.const 0x200) (i32.const 1) {slot(10)}))
      (call $rec (i32.const 2) (call $fd_write (i32.const 7) (i32.const 0x200) (i32.const 1) {slot(10)}))
      (call $rec (i32.const 3) (call $environ_sizes_get {slot(11)} {slot(12)}))
      (call $rec (i32.const 4) (call $environ_get (i32.const 0x300) (i32.const 0x340)))
      (call $rec (i32.const 5) (call $clock_time_get (i32.const 0) (i64.const 1) {slot(14)}))
      (call $rec (i32.const 6) (call $random_get (i32.const 0x400) (i32.const 16)))
      (call $rec (i32.const 7) (call $args_sizes_get {slot(16)} {slot(17)}))
      (call $rec (i32.const 8) (call $fd_fdstat_get (i32.const 1) (i32.const 0x500)))
      (call $rec (i32.const 9) (call $fd_close (i32.const 1)))
      (call $rec (i32.const 18) (call $fd_seek (i32.const 1) (i64.const 0) (i32.const 0) {slot(19)}))
      (call $rec (i32.const 20) (call $sched_yield))
      (call $rec (i32.const 21) (call $clock_time_get (i32.const 9) (i64.const 1) {slot(14)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, wasi=wasi,
                           data={0x100: b"hello world\n", 0x200: iov}),
                    HostConfig(vm_env={"TENANT": "acme"}))
    result = plugin.http()
    status = results(plugin, 22)
    assert status[0:3] == [Errno.SUCCESS, Errno.SUCCESS, Errno.BADF]
    assert status[10] == 12
    assert [(e.level, e.message, e.source) for e in result.logs] == [
        (LogLevel.INFO, "hello world", "stdout"), (LogLevel.ERROR, "hello world", "stderr")]
    assert status[3:5] == [Errno.SUCCESS, Errno.SUCCESS]
    assert status[11] == 1 and status[12] == len(b"TENANT=acme\0")
    env_ptr = struct.unpack("<I", plugin.vm.memory.read(0x300, 4))[0]
    assert plugin.vm.memory.read(env_ptr, 12) == b"TENANT=acme\0"
    assert status[5] == Errno.SUCCESS
    assert struct.unpack("<Q", plugin.vm.memory.read(RESULTS + 56, 8))[0] == plugin.now_ns
    assert status[6:9] == [Errno.SUCCESS, Errno.SUCCESS, Errno.SUCCESS]
    assert status[16:18] == [0, 0]
    # As proxy-wasm-cpp-host: file type unknown, rights fd_write only.
    assert struct.unpack("<QQQ", plugin.vm.memory.read(0x500, 24)) == (0, 64, 0)
    assert status[9] == Errno.SUCCESS and status[18] == Errno.SPIPE
    assert status[20] == Errno.SUCCESS and status[21] == Errno.NOTSUP


def test_proc_exit_traps_the_plugin() -> None:
    plugin = Plugin(module({"proxy_on_request_headers": "(call $proc_exit (i32.const 3)) "
                                                        "(i32.const 0)"}))
    result = plugin.http()
    assert result.failure is not None and "proc_exit(3)" in result.failure.message
    assert result.status == 503


def test_network_filter_pass_pause_and_close() -> None:
    downstream = """
      (call $rec (i32.const 0) (local.get $size))
      (if (result i32) (local.get $eos) (then (i32.const 0)) (else (i32.const 1)))"""
    upstream = """
      (drop (call $proxy_set_buffer_bytes (i32.const 3) (i32.const 0) (i32.const -1)
        (i32.const 0x100) (i32.const 4)))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_downstream_data": downstream,
                            "proxy_on_upstream_data": upstream}, data={0x100: b"PONG"}))
    connection = plugin.connection()
    connection.downstream(b"pi")
    connection.downstream(b"ng", end_of_stream=True)
    connection.upstream(b"pong")
    result = connection.close()
    assert results(plugin, 1) == [4]  # buffered while paused
    assert result.to_upstream == b"ping"
    assert result.to_downstream == b"PONG"
    assert result.closed and result.failure is None


def test_network_filter_close_stream() -> None:
    body = "(drop (call $proxy_close_stream (i32.const 2))) (i32.const 1)"
    plugin = Plugin(module({"proxy_on_downstream_data": body}))
    connection = plugin.connection()
    connection.downstream(b"x")
    assert connection.result.closed and connection.result.to_upstream == b""
