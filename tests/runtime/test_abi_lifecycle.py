"""ABI detection and version differences, and the context lifecycle."""



from __future__ import annotations

import pytest
import wasmtime

from tests.runtime.wat import RESULTS, cstr, module, read_returned, results
from wasmhub.runtime import (
    AbiVersion,
    HostConfig,
    HttpRequest,
    ModuleLoadError,
    Plugin,
    PluginStartError,
    Status,
)

LOG = """(drop (call $proxy_log (i32.const 2) (i32.const {addr}) (i32.const {size})))"""


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


@pytest.mark.parametrize("abi", ["0_1_0", "0_2_0", "0_2_1"])
def test_detects_abi_from_marker(abi: str) -> None:
    assert Plugin(module(abi=abi)).abi == AbiVersion(abi.replace("_", "."))


def test_module_without_marker_is_refused() -> None:
    wasm = wasmtime.wat2wasm('(module (memory (export "memory") 1))')
    with pytest.raises(ModuleLoadError, match="Missing or unknown Proxy-Wasm ABI"):
        Plugin(wasm)


def test_version_specific_imports_are_only_offered_to_their_abi() -> None:
    with pytest.raises(ModuleLoadError, match=r"env\.proxy_continue_stream.*0\.2\.0"):
        Plugin(module(abi="0_1_0", imports=["proxy_continue_stream"]))
    with pytest.raises(ModuleLoadError, match=r"env\.proxy_get_log_level"):
        Plugin(module(abi="0_2_0", imports=["proxy_get_log_level"]))
    with pytest.raises(ModuleLoadError, match=r"env\.proxy_continue_request"):
        Plugin(module(abi="0_2_1", imports=["proxy_continue_request"]))
    with pytest.raises(ModuleLoadError, match=r"env\.proxy_no_such_function"):
        Plugin(module(raw_imports='(import "env" "proxy_no_such_function" (func))'))


def test_callback_with_the_wrong_arity_is_refused() -> None:
    with pytest.raises(ModuleLoadError, match="proxy_on_request_headers takes 2"):
        Plugin(module(abi="0_2_1", signatures={
            "proxy_on_request_headers": "(param i32 i32) (result i32)"}))


def test_abi_0_1_0_missing_header_is_empty_ok_and_continue_request() -> None:
    headers = f"""
      (call $rec (i32.const 0) (call $proxy_get_header_map_value (i32.const 0)
        {cstr(0x100, "x-none")} {slot(10)} {slot(11)}))
      (call $rec (i32.const 1) (local.get $n))
      (drop (call $proxy_continue_request))
      (i32.const 1)"""
    configure = f"""
      (call $rec (i32.const 2) (call $proxy_get_configuration {slot(12)} {slot(13)}))
      (i32.const 1)"""
    # Paused headers hold the body too (proxy-wasm-cpp-host's StopAll): resume from there.
    body = "(drop (call $proxy_clear_route_cache)) (i32.const 0)"
    plugin = Plugin(module({"proxy_on_request_headers": headers, "proxy_on_configure": configure,
                            "proxy_on_request_body": body}, abi="0_1_0",
                           data={0x100: b"x-none"}), HostConfig(plugin_config=b"cfg"))
    result = plugin.http(HttpRequest(method="POST", body=b"x"))
    # the four pseudo-headers and what Envoy's connection manager adds before any filter
    # (x-forwarded-proto, x-request-id)
    assert results(plugin, 3) == [Status.OK, 6, Status.OK]
    assert read_returned(plugin, 10) == b""
    assert read_returned(plugin, 12) == b"cfg"
    assert result.status == 200 and result.reached_upstream


def test_paused_request_without_resume_stalls() -> None:
    plugin = Plugin(module({"proxy_on_request_headers": "(i32.const 1)"}))
    result = plugin.http()
    assert result.status is None and result.stalled == "request"
    assert not result.reached_upstream


def test_lifecycle_order_is_envoys_and_done_does_not_defer_a_stream() -> None:
    names = ["create", "reqh", "resph", "done", "log", "delete"]
    data = {0x100 + 16 * i: name.encode() for i, name in enumerate(names)}

    def log(index: int) -> str:
        return LOG.format(addr=0x100 + 16 * index, size=len(names[index]))

    plugin = Plugin(module({
        "proxy_on_context_create": log(0),
        "proxy_on_request_headers": log(1) + "(i32.const 0)",
        "proxy_on_response_headers": log(2) + "(i32.const 0)",
        "proxy_on_done": log(3) + "(i32.const 0)",  # false: Envoy destroys the stream anyway
        "proxy_on_log": log(4),
        "proxy_on_delete": log(5),
        "proxy_on_configure": "(drop (call $proxy_set_tick_period_milliseconds (i32.const 10)))"
                              "(i32.const 1)",
        "proxy_on_tick": "(drop (call $proxy_set_effective_context (i32.const 2)))"
                         "(call $rec (i32.const 0) (call $proxy_done))",
    }, data=data))
    result = plugin.http()
    # Envoy runs the access-log phase before it destroys the stream (on_done, on_delete).
    assert [e.message for e in result.logs] == ["create", "reqh", "resph", "log", "done",
                                                "delete"]
    plugin.advance(10)
    assert results(plugin, 1) == [Status.NOT_FOUND]  # nothing waits for proxy_done


def test_configure_returning_false_refuses_to_start() -> None:
    with pytest.raises(PluginStartError, match="proxy_on_configure returned false"):
        Plugin(module({"proxy_on_configure": "(i32.const 0)"}))
    with pytest.raises(PluginStartError, match="proxy_on_vm_start returned false"):
        Plugin(module({"proxy_on_vm_start": "(i32.const 0)"}))
    with pytest.raises(PluginStartError, match="unreachable"):
        Plugin(module({"proxy_on_configure": "(unreachable)"}))


def test_instance_state_persists_across_requests() -> None:
    extra = "(global $count (mut i32) (i32.const 0))"
    body = """(global.set $count (i32.add (global.get $count) (i32.const 1)))
              (call $rec (i32.const 0) (global.get $count)) (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, extra=extra))
    for _ in range(3):
        plugin.http()
    assert results(plugin, 1) == [3]
