"""Shared data (CAS), shared queues, HTTP and gRPC callouts, foreign functions."""

# ruff: noqa: E501 - WAT snippets read best one host call per line

from __future__ import annotations

from tests.runtime.wat import RESULTS, cstr, module, read_returned, results
from wasmhub.runtime import GrpcAnswer, HostConfig, HttpCallAnswer, Plugin, Status
from wasmhub.runtime.memory import serialize_pairs
from wasmhub.runtime.vm import SharedState


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


def test_shared_data_compare_and_swap() -> None:
    body = f"""
      (call $rec (i32.const 0) (call $proxy_get_shared_data {cstr(0x100, "k")} {slot(10)} {slot(11)} {slot(12)}))
      (call $rec (i32.const 1) (call $proxy_set_shared_data {cstr(0x100, "k")} {cstr(0x110, "v1")} (i32.const 0)))
      (call $rec (i32.const 2) (call $proxy_get_shared_data {cstr(0x100, "k")} {slot(10)} {slot(11)} {slot(12)}))
      (call $rec (i32.const 3) (call $proxy_set_shared_data {cstr(0x100, "k")} {cstr(0x120, "v2")}
        (i32.add (i32.load {slot(12)}) (i32.const 1))))
      (call $rec (i32.const 4) (call $proxy_set_shared_data {cstr(0x100, "k")} {cstr(0x120, "v2")}
        (i32.load {slot(12)})))
      (call $rec (i32.const 5) (call $proxy_get_shared_data {cstr(0x100, "k")} {slot(13)} {slot(14)} {slot(15)}))
      (i32.const 0)"""
    shared = SharedState()
    plugin = Plugin(module({"proxy_on_request_headers": body},
                           data={0x100: b"k", 0x110: b"v1", 0x120: b"v2"}), shared=shared)
    plugin.http()
    assert results(plugin, 6) == [Status.NOT_FOUND, Status.OK, Status.OK, Status.CAS_MISMATCH,
                                  Status.OK, Status.OK]
    assert read_returned(plugin, 13) == b"v2"
    # Another VM sharing the state sees the value.
    other = Plugin(module({"proxy_on_request_headers": body},
                          data={0x100: b"k", 0x110: b"v1", 0x120: b"v2"}), shared=shared)
    other.http()
    assert results(other, 1) == [Status.OK]


def test_shared_queue_register_enqueue_ready_dequeue() -> None:
    configure = f"""
      (call $rec (i32.const 0) (call $proxy_register_shared_queue {cstr(0x100, "jobs")} {slot(10)}))
      (i32.const 1)"""
    headers = f"""
      (call $rec (i32.const 1) (call $proxy_resolve_shared_queue (i32.const 0) (i32.const 0)
        {cstr(0x100, "jobs")} {slot(11)}))
      (call $rec (i32.const 2) (call $proxy_enqueue_shared_queue (i32.load {slot(11)})
        {cstr(0x110, "job-1")}))
      (call $rec (i32.const 3) (call $proxy_enqueue_shared_queue (i32.const 77) {cstr(0x110, "job-1")}))
      (call $rec (i32.const 4) (call $proxy_resolve_shared_queue (i32.const 0) (i32.const 0)
        {cstr(0x120, "nope")} {slot(12)}))
      (i32.const 0)"""
    ready = f"""
      (call $rec (i32.const 5) (local.get $queue))
      (call $rec (i32.const 6) (call $proxy_dequeue_shared_queue (local.get $queue) {slot(14)} {slot(15)}))
      (call $rec (i32.const 7) (call $proxy_dequeue_shared_queue (local.get $queue) {slot(16)} {slot(17)}))"""
    plugin = Plugin(module({"proxy_on_configure": configure, "proxy_on_request_headers": headers,
                            "proxy_on_queue_ready": ready},
                           data={0x100: b"jobs", 0x110: b"job-1", 0x120: b"nope"}))
    plugin.http()
    status = results(plugin, 11)
    assert status[0:5] == [Status.OK, Status.OK, Status.OK, Status.NOT_FOUND, Status.NOT_FOUND]
    assert status[5] == status[10]
    assert status[6:8] == [Status.OK, Status.EMPTY]
    assert read_returned(plugin, 14) == b"job-1"


HTTP_HEADERS = serialize_pairs([(b":method", b"GET"), (b":path", b"/check"),
                                (b":authority", b"auth")])
NO_PATH = serialize_pairs([(b":method", b"GET")])


def _callout_plugin(answers: list[HttpCallAnswer]) -> Plugin:
    headers = f"""
      (call $rec (i32.const 0) (call $proxy_http_call {cstr(0x100, "auth")}
        (i32.const 0x200) (i32.const {len(HTTP_HEADERS)}) (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 500) {slot(10)}))
      (call $rec (i32.const 1) (call $proxy_http_call {cstr(0x110, "other")}
        (i32.const 0x200) (i32.const {len(HTTP_HEADERS)}) (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 500) {slot(11)}))
      (call $rec (i32.const 2) (call $proxy_http_call {cstr(0x100, "auth")}
        (i32.const 0x300) (i32.const {len(NO_PATH)}) (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 500) {slot(11)}))
      (i32.const 1)"""
    # Answers arrive on the root context (1), as in proxy-wasm-cpp-host; the plugin
    # switches to its stream (2) before resuming it.
    response = f"""
      (call $rec (i32.const 6) (local.get $ctx))
      (drop (call $proxy_set_effective_context (i32.const 2)))
      (call $rec (i32.const 3) (local.get $headers))
      (call $rec (i32.const 4) (call $proxy_get_buffer_bytes (i32.const 4) (i32.const 0)
        (local.get $body) {slot(12)} {slot(13)}))
      (call $rec (i32.const 5) (call $proxy_get_header_map_value (i32.const 6)
        {cstr(0x120, ":status")} {slot(14)} {slot(15)}))
      (if (i32.eqz (local.get $headers))
        (then (drop (call $proxy_send_local_response (i32.const 403) (i32.const 0) (i32.const 0)
          {cstr(0x130, "denied")} (i32.const 0) (i32.const 0) (i32.const -1))))
        (else (drop (call $proxy_continue_stream (i32.const 0)))))"""
    return Plugin(module({"proxy_on_request_headers": headers,
                          "proxy_on_http_call_response": response},
                         data={0x100: b"auth", 0x110: b"other", 0x120: b":status",
                               0x130: b"denied", 0x200: HTTP_HEADERS, 0x300: NO_PATH}),
                  HostConfig(http_calls=answers))


def test_http_call_answer_resumes_the_request() -> None:
    plugin = _callout_plugin([HttpCallAnswer("auth", 200, [("x-user", "u1")], b"ok")])
    result = plugin.http()
    status = results(plugin, 7)
    assert status[6] == 1  # the root context
    assert status[0] == Status.OK
    assert status[1] == Status.BAD_ARGUMENT  # undeclared cluster
    assert status[2] == Status.BAD_ARGUMENT  # headers lack :path/:authority
    # :status, the declared header, and the upstream time Envoy's router adds
    assert status[3] == 3 and status[4] == Status.OK and status[5] == Status.OK
    assert read_returned(plugin, 12) == b"ok"
    assert read_returned(plugin, 14) == b"200"
    assert result.status == 200 and result.reached_upstream
    assert [call.cluster for call in result.calls] == ["auth"]
    assert result.calls[0].headers[1] == (":path", "/check")
    assert any("undeclared cluster 'other'" in e.message for e in result.logs)


def test_failed_http_call_has_no_headers() -> None:
    plugin = _callout_plugin([HttpCallAnswer("auth", fail=True)])
    result = plugin.http()
    assert results(plugin, 4)[3] == 0
    assert result.status == 403 and result.body == b"denied" and not result.reached_upstream


def test_grpc_call_answered_and_refused() -> None:
    headers = f"""
      (call $rec (i32.const 0) (call $proxy_grpc_call {cstr(0x100, "authz")}
        {cstr(0x110, "svc.Auth")} {cstr(0x120, "Check")} (i32.const 0) (i32.const 0)
        {cstr(0x130, "req")} (i32.const 100) {slot(10)}))
      (call $rec (i32.const 1) (call $proxy_grpc_call {cstr(0x140, "nope")}
        {cstr(0x110, "svc.Auth")} {cstr(0x120, "Check")} (i32.const 0) (i32.const 0)
        {cstr(0x130, "req")} (i32.const 100) {slot(11)}))
      (call $rec (i32.const 2) (call $proxy_grpc_cancel (i32.const 999)))
      (i32.const 1)"""
    receive = f"""(call $rec (i32.const 3) (call $proxy_get_buffer_bytes (i32.const 5)
        (i32.const 0) (local.get $size) {slot(12)} {slot(13)}))"""
    close = f"""(call $rec (i32.const 4) (local.get $status))
        (call $rec (i32.const 5) (call $proxy_get_status {slot(14)} {slot(15)} {slot(16)}))
        (drop (call $proxy_set_effective_context (i32.const 2)))
        (drop (call $proxy_continue_stream (i32.const 0)))"""
    plugin = Plugin(module({"proxy_on_request_headers": headers, "proxy_on_grpc_receive": receive,
                            "proxy_on_grpc_close": close},
                           data={0x100: b"authz", 0x110: b"svc.Auth", 0x120: b"Check",
                                 0x130: b"req", 0x140: b"nope"}),
                    HostConfig(grpc_calls=[GrpcAnswer("authz", "svc.Auth", "Check",
                                                      messages=[b"allow"])]))
    result = plugin.http()
    status = results(plugin, 6)
    assert status[0:3] == [Status.OK, Status.PARSE_FAILURE, Status.NOT_FOUND]
    assert status[3] == Status.OK and read_returned(plugin, 12) == b"allow"
    assert status[4] == 0 and status[5] == Status.OK
    assert result.status == 200


def test_foreign_function_is_refused() -> None:
    body = f"""(call $rec (i32.const 0) (call $proxy_call_foreign_function {cstr(0x100, "compress")}
        (i32.const 0) (i32.const 0) {slot(10)} {slot(11)})) (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": body}, data={0x100: b"compress"}))
    result = plugin.http()
    assert results(plugin, 1) == [Status.NOT_FOUND]
    assert any("registers only expr_create" in e.message for e in result.logs)


def test_local_response_goes_through_response_callbacks() -> None:
    headers = f"""(drop (call $proxy_send_local_response (i32.const 401) {cstr(0x100, "nope")}
        {cstr(0x110, "go away")} (i32.const 0) (i32.const 0) (i32.const -1))) (i32.const 1)"""
    response = f"""(drop (call $proxy_add_header_map_value (i32.const 2) {cstr(0x120, "x-seen")}
        {cstr(0x130, "1")})) (i32.const 0)"""
    plugin = Plugin(module({"proxy_on_request_headers": headers,
                            "proxy_on_response_headers": response},
                           data={0x100: b"nope", 0x110: b"go away", 0x120: b"x-seen",
                                 0x130: b"1"}))
    result = plugin.http()
    assert result.status == 401 and result.body == b"go away"
    assert result.header("x-seen") == "1" and not result.reached_upstream
    assert result.local_reply is not None and result.local_reply.details == "nope"
