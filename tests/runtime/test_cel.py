"""Envoy's CEL foreign functions (expr_create / expr_evaluate / expr_delete) through
proxy_call_foreign_function: wire format, status codes, attributes, the deadline."""

# ruff: noqa: E501 - WAT snippets read best one host call per line

from __future__ import annotations

import struct

from tests.runtime.wat import RESULTS, module, results
from wasmhub.runtime import HostConfig, HttpRequest, Plugin, Status
from wasmhub.runtime.memory import serialize_pairs

NAMES = {0x100: b"expr_create", 0x120: b"expr_evaluate", 0x140: b"expr_delete"}
EXPR_AT = 0x1000
EXPR_SPACING = 0x200
# Per expression i: statuses at slots 3i, 3i+1, 3i+2; create's (ptr, size) at slots
# 100+4i, 101+4i; evaluate's at 102+4i, 103+4i.
OUT = 100


def slot(index: int) -> str:
    return f"(i32.const {RESULTS + 4 * index})"


def _call(name_at: int, args: str, out: int) -> str:
    size = len(NAMES[name_at])
    return (f"(call $proxy_call_foreign_function (i32.const {name_at}) (i32.const {size}) "
            f"{args} {slot(out)} {slot(out + 1)})")


def cel_module(expressions: list[bytes], *, delete: bool = True) -> bytes:
    """A filter that, on request headers, creates, evaluates and (``delete``) deletes each
    expression in turn; evaluate is passed the token create returned."""
    data = dict(NAMES)
    steps = []
    for i, text in enumerate(expressions):
        at = EXPR_AT + i * EXPR_SPACING
        assert len(text) < EXPR_SPACING
        data[at] = text
        token = f"(i32.load {slot(OUT + 4 * i)}) (i32.const 4)"
        steps.append(f"(call $rec (i32.const {3 * i}) {_call(0x100, f'(i32.const {at}) (i32.const {len(text)})', OUT + 4 * i)})")
        steps.append(f"(call $rec (i32.const {3 * i + 1}) {_call(0x120, token, OUT + 4 * i + 2)})")
        if delete:
            steps.append(f"(call $rec (i32.const {3 * i + 2}) {_call(0x140, token, OUT + 4 * i + 2 + 40)})")
    body = "\n".join(steps) + "\n(i32.const 0)"
    return module({"proxy_on_request_headers": body}, data=data)


def returned(plugin: Plugin, out_slot: int) -> bytes:
    pointer, size = struct.unpack("<II", plugin.vm.memory.read(RESULTS + 4 * out_slot, 8))
    return plugin.vm.memory.read(pointer, size) if size else b""


def evaluate_all(expressions: list[bytes], config: HostConfig | None = None,
                 request: HttpRequest | None = None) -> list[tuple[int, int, bytes]]:
    plugin = Plugin(cel_module(expressions), config or HostConfig())
    plugin.http(request or HttpRequest(path="/a?b=1", headers=[("server", "envoy")]))
    status = results(plugin, 3 * len(expressions))
    return [(status[3 * i], status[3 * i + 1], returned(plugin, OUT + 4 * i + 2))
            for i in range(len(expressions))]


def q(value: int) -> bytes:
    return struct.pack("<q", value)


def test_values_are_serialised_as_envoy_does() -> None:
    cases: list[tuple[bytes, bytes]] = [
        (b'"server is " + request.headers["server"]', b"server is envoy"),
        (b"request.method", b"GET"),
        (b"request.path", b"/a?b=1"),
        (b"request.url_path + '|' + request.query", b"/a|b=1"),
        (b"request.host", b"example.com"),
        (b"size(request.headers) > 0", b"\x01"),
        (b"request.headers", None),  # checked below: the pair format
        (b"source.port", q(40000)),
        (b"destination.address", b"127.0.0.1:10000"),
        (b"connection.mtls", b"\x00"),
        (b"plugin_root_id", b"rl"),
        (b"tenant + '!'", b"acme!"),
        (b"metadata.filter_metadata['envoy.filters.http.wasm'].key", b"v"),
        (b"-3", q(-3)),
        (b"3u", struct.pack("<Q", 3)),
        (b"1.5", struct.pack("<d", 1.5)),
        (b'b"ab"', b"ab"),
        (b"[1, 2]", serialize_pairs([(q(1), b""), (q(2), b"")])),
        (b'{"a": "b"}', serialize_pairs([(b"a", b"b")])),
        (b'duration("1.5s")', q(1_500_000_000)),
        (b'timestamp("1970-01-01T00:00:02Z")', q(2_000_000_000)),
    ]
    config = HostConfig(root_id="rl", properties={
        "tenant": "acme",
        "metadata": {"filter_metadata": {"envoy.filters.http.wasm": {"key": "v"}}}})
    request = HttpRequest(path="/a?b=1", headers=[("server", "envoy")], authority="example.com")
    outcomes = evaluate_all([text for text, _ in cases], config, request)
    for (text, expected), (created, evaluated, value) in zip(cases, outcomes, strict=True):
        assert (created, evaluated) == (Status.OK, Status.OK), text
        if expected is not None:
            assert value == expected, text
    headers = outcomes[6][2]
    assert (b"server", b"envoy") in _pairs(headers) and (b":method", b"GET") in _pairs(headers)


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    from wasmhub.runtime.memory import parse_pairs

    return parse_pairs(raw)


def test_typed_attributes_time_and_connection_id() -> None:
    outcomes = evaluate_all([b"request.time", b"connection.id", b"type(connection.id) == uint",
                             b"type(request.time) == type(timestamp('1970-01-01T00:00:00Z'))"])
    assert [o[:2] for o in outcomes] == [(Status.OK, Status.OK)] * 4
    assert len(outcomes[0][2]) == 8 and struct.unpack("<q", outcomes[0][2])[0] > 0
    assert struct.unpack("<Q", outcomes[1][2])[0] >= 1
    assert outcomes[2][2] == b"\x01" and outcomes[3][2] == b"\x01"


def test_evaluation_errors_are_envoys_status_codes() -> None:
    outcomes = evaluate_all([b'request.headers["missing"]', b"response.code", b"1 / 0",
                             b"null", b"no_such_name"])
    assert [o[:2] for o in outcomes] == [
        (Status.OK, Status.INTERNAL_FAILURE), (Status.OK, Status.INTERNAL_FAILURE),
        (Status.OK, Status.INTERNAL_FAILURE), (Status.OK, Status.SERIALIZATION_FAILURE),
        (Status.OK, Status.INTERNAL_FAILURE)]


def test_bad_expressions_are_refused_at_create() -> None:
    texts = [b"1 +", b"foo(1)", b"'a'.lowerAscii()",
             b"envoy.config.core.v3.GrpcService{envoy_grpc: envoy.config.core.v3.GrpcService.EnvoyGrpc{cluster_name: 'x'}}"]
    plugin = Plugin(cel_module(texts, delete=False))
    result = plugin.http()
    status = results(plugin, 3 * len(texts))
    assert [status[3 * i] for i in range(len(texts))] == [Status.BAD_ARGUMENT] * len(texts)
    messages = [e.message for e in result.logs if e.source == "host"]
    assert any(m.startswith("expr_create parse error") for m in messages)
    assert any("no overloads for function 'foo'" in m for m in messages)
    assert any("message construction" in m for m in messages)


def test_an_expression_over_the_size_limit_is_refused() -> None:
    from wasmhub.runtime.cel import MAX_EXPRESSION_CODEPOINTS, CelHost

    plugin = Plugin(cel_module([]))
    host = CelHost(plugin.vm)
    plugin.vm.current = next(iter(plugin.vm.contexts.values()))
    status, token = host.create(b"1" * (MAX_EXPRESSION_CODEPOINTS + 1))
    assert (status, token) == (Status.BAD_ARGUMENT, None)
    assert host.create(b"1")[0] == Status.OK


def test_tokens_count_from_zero_per_root_and_delete_forgets_them() -> None:
    from wasmhub.runtime.cel import CelHost

    plugin = Plugin(cel_module([]))
    host = CelHost(plugin.vm)
    plugin.vm.current = next(iter(plugin.vm.contexts.values()))
    first, second = host.create(b"1"), host.create(b"2")
    assert first == (Status.OK, struct.pack("<I", 0))
    assert second == (Status.OK, struct.pack("<I", 1))
    assert host.evaluate(struct.pack("<I", 1)) == (Status.OK, q(2))
    assert host.evaluate(struct.pack("<I", 7)) == (Status.NOT_FOUND, None)
    assert host.evaluate(b"\x00\x00") == (Status.BAD_ARGUMENT, None)
    assert host.delete(b"\x00") == (Status.BAD_ARGUMENT, None)
    assert host.delete(struct.pack("<I", 0)) == (Status.OK, None)
    assert host.evaluate(struct.pack("<I", 0)) == (Status.NOT_FOUND, None)
    assert host.delete(struct.pack("<I", 42)) == (Status.OK, None)  # unknown: still OK
    assert host.create(b"3") == (Status.OK, struct.pack("<I", 2))


def test_values_the_plugin_set_are_bytes_attributes() -> None:
    prelude = ("(drop (call $proxy_set_property (i32.const 0x180) (i32.const 8) "
               "(i32.const 0x1a0) (i32.const 2)))")
    plugin = Plugin(_with_data(b'my_state == b"ok"', prelude, {0x180: b"my_state", 0x1a0: b"ok"}))
    plugin.http()
    assert results(plugin, 2) == [Status.OK, Status.OK]
    assert returned(plugin, OUT + 2) == b"\x01"


def _with_data(text: bytes, prelude: str, extra: dict[int, bytes]) -> bytes:
    """cel_module for one expression, with extra data segments for the prelude."""
    data = {**NAMES, **extra, EXPR_AT: text}
    token = f"(i32.load {slot(OUT)}) (i32.const 4)"
    body = "\n".join([
        prelude,
        f"(call $rec (i32.const 0) {_call(0x100, f'(i32.const {EXPR_AT}) (i32.const {len(text)})', OUT)})",
        f"(call $rec (i32.const 1) {_call(0x120, token, OUT + 2)})",
        "(i32.const 0)"])
    return module({"proxy_on_request_headers": body}, data=data)


def test_other_foreign_functions_are_not_found() -> None:
    body = f"(call $rec (i32.const 0) {_call(0x100, '(i32.const 0) (i32.const 0)', 10)}) (i32.const 0)"
    plugin = Plugin(module({"proxy_on_request_headers": body}, data={0x100: b"compress_xx"}))
    plugin.http()
    assert results(plugin, 1) == [Status.NOT_FOUND]


def test_a_runaway_expression_stops_at_the_callback_deadline() -> None:
    digits = "[0,1,2,3,4,5,6,7,8,9]"
    text = "true"
    for var in "abcdefg":  # 10^7 iterations: far beyond any callback deadline
        text = f"{digits}.all({var}, {text})"
    plugin = Plugin(cel_module([text.encode()], delete=False),
                    HostConfig(callback_timeout_ms=50))
    result = plugin.http()
    messages = [e.message for e in result.logs if e.source == "host"]
    assert any("expr_evaluate stopped at the callback deadline" in m for m in messages), messages
