"""Header-map and buffer host functions through real modules."""



from __future__ import annotations

import struct

from tests.runtime.wat import RESULTS, cstr, module, read_returned, results
from wasmhub.runtime import HttpRequest, Plugin, Status, UpstreamResponse

KEY, VAL, MISSING = 0x100, 0x140, 0x180
DATA = {KEY: b"x-key", VAL: b"v2", MISSING: b"x-none"}


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


def test_header_value_get_add_replace_remove() -> None:
    body = f"""
      (call $rec (i32.const 0) (call $proxy_get_header_map_value (i32.const 0) {cstr(KEY, "x-key")}
        {slot(10)} {slot(11)}))
      (call $rec (i32.const 1) (call $proxy_get_header_map_value (i32.const 0)
        {cstr(MISSING, "x-none")} {slot(12)} {slot(13)}))
      (call $rec (i32.const 2) (call $proxy_add_header_map_value (i32.const 0)
        {cstr(MISSING, "x-none")} {cstr(VAL, "v2")}))
      (call $rec (i32.const 3) (call $proxy_replace_header_map_value (i32.const 0)
        {cstr(KEY, "x-key")} {cstr(VAL, "v2")}))
      (call $rec (i32.const 4) (call $proxy_remove_header_map_value (i32.const 0)
        (i32.const 0x1a0) (i32.const 6)))
      (call $rec (i32.const 5) (call $proxy_get_header_map_value (i32.const 9)
        {cstr(KEY, "x-key")} {slot(12)} {slot(13)}))
      (call $rec (i32.const 6) (call $proxy_add_header_map_value (i32.const 2)
        {cstr(KEY, "x-key")} {cstr(VAL, "v2")}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body},
                           data={**DATA, 0x1a0: b"x-drop"}))
    result = plugin.http(HttpRequest(headers=[("X-Key", "v1"), ("x-drop", "a"),
                                              ("x-drop", "b")]))
    status = results(plugin, 7)
    assert status[0] == Status.OK
    assert read_returned(plugin, 10) == b"v1"
    assert status[1] == Status.NOT_FOUND  # 0.2.x: missing header
    assert status[2:5] == [Status.OK, Status.OK, Status.OK]
    assert status[5] == Status.BAD_ARGUMENT  # unknown map type
    assert status[6] == Status.BAD_ARGUMENT  # response headers do not exist yet
    assert result.upstream_request is not None
    assert result.upstream_request.header("x-key") == "v2"
    assert result.upstream_request.header("x-none") == "v2"
    assert result.upstream_request.header("x-drop") is None


def test_header_pairs_get_set_and_size() -> None:
    pairs = struct.pack("<5I", 2, 1, 1, 1, 2) + b"a\x001\x00b\x0022\x00"
    body = f"""
      (call $rec (i32.const 0) (call $proxy_get_header_map_pairs (i32.const 2)
        {slot(10)} {slot(11)}))
      (call $rec (i32.const 1) (call $proxy_get_header_map_size (i32.const 2) {slot(12)}))
      (call $rec (i32.const 2) (call $proxy_set_header_map_pairs (i32.const 2)
        (i32.const 0x200) (i32.const {len(pairs)})))
      (call $rec (i32.const 3) (call $proxy_set_header_map_pairs (i32.const 2)
        (i32.const 0x200) (i32.const 7)))
      (call $rec (i32.const 4) (call $proxy_get_header_map_size (i32.const 7) {slot(13)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_response_headers": body}, data={0x200: pairs}))
    result = plugin.http(upstream=UpstreamResponse(201, [("server", "up")]))
    status = results(plugin, 5)
    raw = read_returned(plugin, 10)
    count, k1, _v1 = struct.unpack_from("<3I", raw)
    assert count == 2 and raw[4 + 8 * count : 4 + 8 * count + k1] == b":status"
    assert raw.endswith(b"server\x00up\x00")
    assert status[0] == Status.OK and status[2] == Status.OK
    assert results(plugin, 13)[12] == len(raw)
    assert status[3] == Status.BAD_ARGUMENT  # malformed map
    assert status[4] == Status.BAD_ARGUMENT  # no HTTP call response here
    assert result.headers == [("a", "1"), ("b", "22")]
    assert result.status == 0  # the plugin dropped :status


def test_request_body_buffering_and_rewrite() -> None:
    body = f"""
      (if (i32.eqz (local.get $eos)) (then (return (i32.const 1))))
      (call $rec (i32.const 0) (local.get $size))
      (call $rec (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0)
        (i32.const 100) {slot(10)} {slot(11)}))
      (call $rec (i32.const 2) (call $proxy_set_buffer_bytes (i32.const 0) (i32.const 0)
        (i32.const 0) {cstr(VAL, "v2")}))
      (call $rec (i32.const 3) (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0)
        (i32.const 1) {slot(12)} {slot(13)}))
      (call $rec (i32.const 4) (call $proxy_get_buffer_bytes (i32.const 99) (i32.const 0)
        (i32.const 1) {slot(12)} {slot(13)}))
      (call $rec (i32.const 5) (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 50)
        (i32.const 1) {slot(12)} {slot(13)}))
      (call $rec (i32.const 6) (call $proxy_get_buffer_status (i32.const 0) {slot(14)}
        {slot(15)}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_body": body}, data=DATA))
    result = plugin.http(HttpRequest(method="POST", body_chunks=[b"hello ", b"world"]))
    status = results(plugin, 15)
    assert status[0] == 11  # the whole buffered body on the last chunk
    assert read_returned(plugin, 10) == b"hello world"
    assert status[1:7] == [Status.OK, Status.OK, Status.NOT_FOUND, Status.BAD_ARGUMENT,
                           Status.BAD_ARGUMENT, Status.OK]
    assert status[14] == 13
    assert result.upstream_request is not None
    assert result.upstream_request.body == b"v2hello world"


def test_response_body_replace_all() -> None:
    body = f"""
      (drop (call $proxy_set_buffer_bytes (i32.const 1) (i32.const 0) (i32.const -1)
        {cstr(VAL, "v2")}))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_response_body": body}, data=DATA))
    result = plugin.http(upstream=UpstreamResponse(body=b"secret"))
    # As from Envoy's HTTP/1 codec: the chunk (end_of_stream false), then an empty chunk
    # that ends the body; the filter replaces the buffer both times.
    assert result.body == b"v2v2"


def test_plugin_and_vm_configuration_buffers() -> None:
    configure = f"""
      (call $rec (i32.const 0) (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0)
        (local.get $size) {slot(10)} {slot(11)}))
      (call $rec (i32.const 1) (call $proxy_get_buffer_bytes (i32.const 6) (i32.const 0)
        (i32.const 10) {slot(12)} {slot(13)}))
      (i32.const 1)"""
    vm_start = f"""
      (call $rec (i32.const 2) (call $proxy_get_buffer_bytes (i32.const 6) (i32.const 0)
        (local.get $size) {slot(14)} {slot(15)}))
      (i32.const 1)"""
    from wasmhub.runtime import HostConfig

    plugin = Plugin(module({"proxy_on_configure": configure, "proxy_on_vm_start": vm_start}),
                    HostConfig(plugin_config=b'{"a":1}', vm_config=b"vmconf"))
    status = results(plugin, 3)
    assert status == [Status.OK, Status.NOT_FOUND, Status.OK]
    assert read_returned(plugin, 10) == b'{"a":1}'
    assert read_returned(plugin, 14) == b"vmconf"


def test_invalid_memory_access_is_reported() -> None:
    body = """
      (call $rec (i32.const 0) (call $proxy_log (i32.const 2) (i32.const 0x1fff0)
        (i32.const 100)))
      (call $rec (i32.const 1) (call $proxy_log (i32.const 9) (i32.const 0) (i32.const 1)))
      (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}))
    plugin.http()
    assert results(plugin, 2) == [Status.INVALID_MEMORY_ACCESS, Status.BAD_ARGUMENT]
