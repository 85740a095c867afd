"""Host behaviour taken from Envoy 1.40 / proxy-wasm-cpp-host (what tests/fidelity found
by running real modules through both hosts), pinned on small hand-made modules."""

# ruff: noqa: E501 - WAT snippets read best one host call per line

from __future__ import annotations

import struct
import time

import pytest

from tests.runtime.wat import cstr, module, results
from wasmhub.runtime import Clock, HostConfig, HttpRequest, LogLevel, Plugin, PluginStartError

# WASI preview1 (witx, wasi_snapshot_preview1): every function and its core wasm type,
# written out here from the spec, not from the host's own table.
PREVIEW1 = {
    "args_get": "(param i32 i32) (result i32)", "args_sizes_get": "(param i32 i32) (result i32)",
    "environ_get": "(param i32 i32) (result i32)", "environ_sizes_get": "(param i32 i32) (result i32)",
    "clock_res_get": "(param i32 i32) (result i32)", "clock_time_get": "(param i32 i64 i32) (result i32)",
    "fd_advise": "(param i32 i64 i64 i32) (result i32)", "fd_allocate": "(param i32 i64 i64) (result i32)",
    "fd_close": "(param i32) (result i32)", "fd_datasync": "(param i32) (result i32)",
    "fd_fdstat_get": "(param i32 i32) (result i32)", "fd_fdstat_set_flags": "(param i32 i32) (result i32)",
    "fd_fdstat_set_rights": "(param i32 i64 i64) (result i32)", "fd_filestat_get": "(param i32 i32) (result i32)",
    "fd_filestat_set_size": "(param i32 i64) (result i32)", "fd_filestat_set_times": "(param i32 i64 i64 i32) (result i32)",
    "fd_pread": "(param i32 i32 i32 i64 i32) (result i32)", "fd_prestat_get": "(param i32 i32) (result i32)",
    "fd_prestat_dir_name": "(param i32 i32 i32) (result i32)", "fd_pwrite": "(param i32 i32 i32 i64 i32) (result i32)",
    "fd_read": "(param i32 i32 i32 i32) (result i32)", "fd_readdir": "(param i32 i32 i32 i64 i32) (result i32)",
    "fd_renumber": "(param i32 i32) (result i32)", "fd_seek": "(param i32 i64 i32 i32) (result i32)",
    "fd_sync": "(param i32) (result i32)", "fd_tell": "(param i32 i32) (result i32)",
    "fd_write": "(param i32 i32 i32 i32) (result i32)", "path_create_directory": "(param i32 i32 i32) (result i32)",
    "path_filestat_get": "(param i32 i32 i32 i32 i32) (result i32)",
    "path_filestat_set_times": "(param i32 i32 i32 i32 i64 i64 i32) (result i32)",
    "path_link": "(param i32 i32 i32 i32 i32 i32 i32) (result i32)",
    "path_open": "(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)",
    "path_readlink": "(param i32 i32 i32 i32 i32 i32) (result i32)",
    "path_remove_directory": "(param i32 i32 i32) (result i32)",
    "path_rename": "(param i32 i32 i32 i32 i32 i32) (result i32)",
    "path_symlink": "(param i32 i32 i32 i32 i32) (result i32)", "path_unlink_file": "(param i32 i32 i32) (result i32)",
    "poll_oneoff": "(param i32 i32 i32 i32) (result i32)", "proc_exit": "(param i32)",
    "proc_raise": "(param i32) (result i32)", "sched_yield": "(result i32)",
    "random_get": "(param i32 i32) (result i32)", "sock_accept": "(param i32 i32 i32) (result i32)",
    "sock_recv": "(param i32 i32 i32 i32 i32 i32) (result i32)",
    "sock_send": "(param i32 i32 i32 i32 i32) (result i32)", "sock_shutdown": "(param i32 i32) (result i32)",
}
NOSYS, NOENT, BADF = 52, 44, 8


@pytest.mark.parametrize("wasi", ["wasi_snapshot_preview1", "wasi_unstable"])
def test_every_wasi_preview1_function_links_and_files_are_refused(wasi: str) -> None:
    assert len(PREVIEW1) == 46
    raw = "\n".join(f'(import "{wasi}" "{name}" (func $w_{name} {sig}))'
                    for name, sig in PREVIEW1.items())
    body = f"""
      (call $rec (i32.const 0) (call $w_path_open (i32.const 3) (i32.const 0) {cstr(0x100, "etc")}
        (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0x200)))
      (call $rec (i32.const 1) (call $w_fd_read (i32.const 0) (i32.const 0x200) (i32.const 0) (i32.const 0x300)))
      (call $rec (i32.const 2) (call $w_fd_prestat_get (i32.const 3) (i32.const 0x200)))
      (call $rec (i32.const 3) (call $w_sock_accept (i32.const 3) (i32.const 0) (i32.const 0x200)))
      (call $rec (i32.const 4) (call $w_fd_fdstat_set_flags (i32.const 1) (i32.const 4)))
      (call $rec (i32.const 5) (call $w_fd_tell (i32.const 9) (i32.const 0x200)))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, raw_imports=raw,
                           data={0x100: b"etc"}))
    assert plugin.http().status == 200
    assert results(plugin, 6) == [NOENT, NOSYS, BADF, NOSYS, 0, BADF]


def test_proc_exit_zero_ends_start_and_other_codes_refuse_to_start() -> None:
    ok = Plugin(module(extra='(func (export "_start") (call $proc_exit (i32.const 0)))'))
    assert ok.http().status == 200 and ok.failure is None
    with pytest.raises(PluginStartError) as caught:
        Plugin(module(extra='(func (export "_start") (call $proc_exit (i32.const 2)))'))
    assert caught.value.stage == "start" and caught.value.callback == "_start"
    assert "proc_exit(2)" in caught.value.message


def test_a_refused_configuration_carries_the_plugins_own_log_lines() -> None:
    configure = f"""(drop (call $proxy_log (i32.const 4) {cstr(0x100, "[chatgpt-proxy] need config")}))
      (i32.const 0)"""
    with pytest.raises(PluginStartError) as caught:
        Plugin(module({"proxy_on_configure": configure},
                      data={0x100: b"[chatgpt-proxy] need config"}))
    error = caught.value
    assert error.stage == "configure" and error.callback == "proxy_on_configure"
    assert [(e.level, e.message) for e in error.plugin_logs] == [
        (LogLevel.ERROR, "[chatgpt-proxy] need config")]
    assert "the plugin logged: [chatgpt-proxy] need config" in error.message


def test_emscripten_pthread_equal_is_provided() -> None:
    raw = '(import "env" "pthread_equal" (func $pthread_equal (param i32 i32) (result i32)))'
    body = """(call $rec (i32.const 0) (call $pthread_equal (i32.const 7) (i32.const 7)))
      (call $rec (i32.const 1) (call $pthread_equal (i32.const 7) (i32.const 8))) (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, raw_imports=raw))
    plugin.http()
    assert results(plugin, 2) == [1, 0]


def test_a_failed_plugin_answers_a_plain_client_without_grpc_status() -> None:
    plugin = Plugin(module({"proxy_on_request_headers": "(unreachable)"}))
    plain = plugin.http()
    assert plain.status == 503 and plain.headers == [("content-length", "0")]
    grpc = plugin.http(HttpRequest("POST", "/svc/M", [("content-type", "application/grpc")],
                                   b"x"))
    assert grpc.status == 503 and ("grpc-status", "14") in grpc.headers


def test_stdout_writes_are_one_log_line_each_and_the_run_clock_is_real() -> None:
    iov = struct.pack("<II", 0x100, 3) + struct.pack("<II", 0x110, 1)
    body = """(drop (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 0x300)))
      (drop (call $fd_write (i32.const 1) (i32.const 0x208) (i32.const 1) (i32.const 0x300)))
      (drop (call $proxy_get_current_time_nanoseconds (i32.const 0x400))) (i32.const 0)"""
    before = time.time_ns()
    plugin = Plugin(module({"proxy_on_request_headers": body},
                           data={0x100: b"ab\n", 0x110: b"\n", 0x200: iov}),
                    HostConfig(clock=Clock.REAL))
    result = plugin.http()
    now = struct.unpack("<Q", plugin.vm.memory.read(0x400, 8))[0]
    assert before <= now <= time.time_ns()
    assert [e.message for e in result.logs] == ["ab", ""]
    with pytest.raises(Exception, match="real clock"):
        plugin.advance(10)
