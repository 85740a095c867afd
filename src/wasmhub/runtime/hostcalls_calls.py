"""Host functions for outbound calls and context control.

``proxy_http_call`` (answered from the configuration's declared ``http_calls``, matched by
cluster; each answer is used once in order and the last one repeats), the gRPC calls
(``proxy_grpc_call``/``stream``/``send``/``cancel``/``close``, answered from declared
``grpc_calls``), ``proxy_get_status``, ``proxy_done``, ``proxy_set_effective_context`` and
``proxy_call_foreign_function`` (Envoy's CEL functions ``expr_create``/``expr_evaluate``/
``expr_delete``, see wasmhub.runtime.cel; any other name is NOT_FOUND).

Answers are delivered after the current callback returns, as a proxy's event loop would:
``proxy_on_http_call_response`` (``num_headers`` 0 for a failed call) and the
``proxy_on_grpc_*`` callbacks, on the root context of the context that made the call (as
proxy-wasm-cpp-host does; SDKs map the token back to their stream). An undeclared
cluster is refused (BAD_ARGUMENT for HTTP, PARSE_FAILURE for gRPC, as the ABI specifies)
and a host log line says how to declare it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wasmhub.runtime.abi import BufferType, LogLevel, MapType, Status
from wasmhub.runtime.cel import CelHost
from wasmhub.runtime.contexts import Context, HeaderMap
from wasmhub.runtime.memory import parse_pairs
from wasmhub.runtime.model import GrpcAnswer, HttpCallAnswer, OutboundCall

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM


def _strings(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in raw]


def functions(vm: PluginVM) -> dict[str, Callable[..., int]]:  # noqa: PLR0915 - closures
    mem = vm.memory
    used = vm.http_answer_cursor

    def next_answer(cluster: str) -> HttpCallAnswer | None:
        answers = [a for a in vm.config.http_calls if a.cluster == cluster]
        if not answers:
            return None
        index = used.get(cluster, 0)
        used[cluster] = index + 1
        return answers[min(index, len(answers) - 1)]

    def new_call(kind: str, cluster: str, headers: list[tuple[str, str]], body: bytes,
                 timeout: int, service: str = "", method: str = "") -> OutboundCall:
        call = OutboundCall(kind, cluster, vm.next_token, vm.current.id, headers, body,
                            timeout, service, method)
        vm.next_token += 1
        vm.calls.append(call)
        vm.pending_calls[call.token] = call
        return call

    def root_of(ctx: Context) -> Context:
        """Calls belong to the plugin's root context, as in proxy-wasm-cpp-host: their
        answers arrive there (the SDK switches to the stream with
        proxy_set_effective_context)."""
        return vm.contexts.get(ctx.root_context_id, ctx) if ctx.root_context_id else ctx

    def http_call(up: int, us: int, hp: int, hs: int, bp: int, bs: int, tp: int, ts: int,
                  timeout: int, ret_id: int) -> int:
        cluster = mem.read(up, us).decode("utf-8", "replace")
        try:
            headers = parse_pairs(mem.read(hp, hs))
            parse_pairs(mem.read(tp, ts))
        except ValueError:
            return Status.BAD_ARGUMENT
        body = mem.read(bp, bs)
        mem.check(ret_id, 4)
        names = {key.lower() for key, _value in headers}
        missing = [h for h in (b":method", b":path", b":authority") if h not in names]
        if missing:
            vm.log(LogLevel.WARN, f"proxy_http_call to {cluster!r} refused (BAD_ARGUMENT): "
                   f"headers lack {', '.join(m.decode() for m in missing)}",
                   vm.current.id, "host")
            return Status.BAD_ARGUMENT
        answer = next_answer(cluster)
        if answer is None:
            vm.log(LogLevel.WARN, f"proxy_http_call to undeclared cluster {cluster!r} "
                   "refused (BAD_ARGUMENT): declare an answer for it under http_calls",
                   vm.current.id, "host")
            return Status.BAD_ARGUMENT
        call = new_call("http", cluster, _strings(headers), body, timeout)
        ctx = root_of(vm.current)
        vm.events.append(lambda: deliver_http(ctx, call, answer))
        mem.write_u32(ret_id, call.token)
        return Status.OK

    def deliver_http(ctx: Context, call: OutboundCall, answer: HttpCallAnswer) -> None:
        if vm.pending_calls.pop(call.token, None) is None or ctx.closed:
            return
        call.answered = True
        if answer.fail:
            headers, body, trailers = HeaderMap(), bytearray(), HeaderMap()
            vm.call_status = (503, b"upstream connect error")
        else:
            # Envoy's async client routes the call like any request: its router adds the
            # upstream time (a declared answer takes none).
            headers = HeaderMap.from_strings([(":status", str(answer.status)),
                                              *answer.headers,
                                              ("x-envoy-upstream-service-time", "0")])
            body = bytearray(answer.body)
            trailers = HeaderMap.from_strings(answer.trailers)
            vm.call_status = (answer.status, b"")
        vm.call_overlay = {MapType.HTTP_CALL_RESPONSE_HEADERS: headers,
                           MapType.HTTP_CALL_RESPONSE_TRAILERS: trailers,
                           BufferType.HTTP_CALL_RESPONSE_BODY: body}
        try:
            vm.call("proxy_on_http_call_response", ctx, ctx.id, call.token, len(headers),
                    len(body), len(trailers))
        finally:
            vm.call_overlay = {}

    def grpc_answer(cluster: str, service: str, method: str) -> GrpcAnswer | None:
        for answer in vm.config.grpc_calls:
            if answer.cluster == cluster and answer.service in (None, service) and \
                    answer.method in (None, method):
                return answer
        return None

    def grpc_open(up: int, us: int, sp: int, ss: int, mp: int, ms: int, hp: int, hs: int,
                  message: bytes, timeout: int) -> tuple[int, OutboundCall | None, GrpcAnswer]:
        cluster = mem.read(up, us).decode("utf-8", "replace")
        service = mem.read(sp, ss).decode("utf-8", "replace")
        method = mem.read(mp, ms).decode("utf-8", "replace")
        try:
            metadata = parse_pairs(mem.read(hp, hs))
        except ValueError:
            return Status.BAD_ARGUMENT, None, GrpcAnswer(cluster)
        answer = grpc_answer(cluster, service, method)
        if answer is None:
            vm.log(LogLevel.WARN, f"gRPC call to undeclared cluster {cluster!r} "
                   f"({service}/{method}) refused (PARSE_FAILURE): declare it under "
                   "grpc_calls", vm.current.id, "host")
            return Status.PARSE_FAILURE, None, GrpcAnswer(cluster)
        call = new_call("grpc", cluster, _strings(metadata), message, timeout, service, method)
        return Status.OK, call, answer

    def deliver_grpc(ctx: Context, call: OutboundCall, answer: GrpcAnswer) -> None:
        if vm.pending_calls.pop(call.token, None) is None or ctx.closed:
            return
        call.answered = True
        token = call.token
        try:
            if answer.initial_metadata:
                meta = HeaderMap.from_strings(answer.initial_metadata)
                vm.call_overlay = {MapType.GRPC_CALL_INITIAL_METADATA: meta}
                vm.call("proxy_on_grpc_receive_initial_metadata", ctx, ctx.id, token, len(meta))
            if answer.status == 0:
                for message in answer.messages:
                    vm.call_overlay = {BufferType.GRPC_CALL_MESSAGE: bytearray(message)}
                    vm.call("proxy_on_grpc_receive", ctx, ctx.id, token, len(message))
            if answer.trailing_metadata:
                meta = HeaderMap.from_strings(answer.trailing_metadata)
                vm.call_overlay = {MapType.GRPC_CALL_TRAILING_METADATA: meta}
                vm.call("proxy_on_grpc_receive_trailing_metadata", ctx, ctx.id, token,
                        len(meta))
            vm.call_overlay = {}
            vm.call_status = (answer.status, answer.status_message.encode())
            vm.call("proxy_on_grpc_close", ctx, ctx.id, token, answer.status)
        finally:
            vm.call_overlay = {}

    def grpc_call(up: int, us: int, sp: int, ss: int, mp: int, ms: int, hp: int, hs: int,
                  msgp: int, msgs: int, timeout: int, ret_id: int) -> int:
        message = mem.read(msgp, msgs)
        mem.check(ret_id, 4)
        status, call, answer = grpc_open(up, us, sp, ss, mp, ms, hp, hs, message, timeout)
        if call is None:
            return status
        ctx = root_of(vm.current)
        vm.events.append(lambda: deliver_grpc(ctx, call, answer))
        mem.write_u32(ret_id, call.token)
        return Status.OK

    streams: dict[int, tuple[Context, OutboundCall, GrpcAnswer]] = {}

    def grpc_stream(up: int, us: int, sp: int, ss: int, mp: int, ms: int, hp: int, hs: int,
                    ret_id: int) -> int:
        mem.check(ret_id, 4)
        status, call, answer = grpc_open(up, us, sp, ss, mp, ms, hp, hs, b"", 0)
        if call is None:
            return status
        streams[call.token] = (root_of(vm.current), call, answer)
        mem.write_u32(ret_id, call.token)
        return Status.OK

    def grpc_send(stream_id: int, mp: int, ms: int, end_stream: int) -> int:
        message = mem.read(mp, ms)
        entry = streams.get(stream_id)
        if entry is None:
            return Status.NOT_FOUND
        ctx, call, answer = entry
        call.body += message
        if end_stream:
            del streams[stream_id]
            vm.events.append(lambda: deliver_grpc(ctx, call, answer))
        return Status.OK

    def grpc_cancel(call_id: int) -> int:
        streams.pop(call_id, None)
        return Status.OK if vm.pending_calls.pop(call_id, None) else Status.NOT_FOUND

    def grpc_close(call_id: int) -> int:
        entry = streams.pop(call_id, None)
        if entry is not None:
            ctx, call, answer = entry
            vm.events.append(lambda: deliver_grpc(ctx, call, answer))
            return Status.OK
        return Status.OK if vm.pending_calls.pop(call_id, None) else Status.NOT_FOUND

    def get_status(ret_code: int, rp: int, rs: int) -> int:
        mem.check(ret_code, 4)
        code, message = vm.call_status
        mem.give(message, rp, rs)
        mem.write_u32(ret_code, code)
        return Status.OK

    def done() -> int:
        ctx = vm.current
        if not ctx.done_pending:
            return Status.NOT_FOUND
        ctx.done_pending = False
        vm.events.append(lambda: vm.release_context(ctx))
        return Status.OK

    def set_effective_context(context_id: int) -> int:
        ctx = vm.contexts.get(context_id)
        if ctx is None:
            return Status.BAD_ARGUMENT
        vm.current = ctx
        return Status.OK

    foreign = CelHost(vm).functions()

    def call_foreign_function(np: int, ns: int, ap: int, az: int, rp: int, rs: int) -> int:
        name = mem.read(np, ns).decode("utf-8", "replace")
        arguments = mem.read(ap, az)
        function = foreign.get(name)
        if function is None:
            vm.log(LogLevel.WARN, f"proxy_call_foreign_function({name!r}) refused "
                   f"(NOT_FOUND): this host registers only {', '.join(sorted(foreign))}",
                   vm.current.id, "host")
            return Status.NOT_FOUND
        status, result = function(arguments)
        # As proxy-wasm-cpp-host: the result slots are written whatever the status
        # ((0, 0) when the function produced nothing), when the plugin passed them.
        if rp and rs:
            mem.give(result or b"", rp, rs)
        else:
            if rp:
                mem.write_u32(rp, 0)
            if rs:
                mem.write_u32(rs, len(result or b""))
        return status

    return {
        "proxy_http_call": http_call,
        "proxy_grpc_call": grpc_call,
        "proxy_grpc_stream": grpc_stream,
        "proxy_grpc_send": grpc_send,
        "proxy_grpc_cancel": grpc_cancel,
        "proxy_grpc_close": grpc_close,
        "proxy_get_status": get_status,
        "proxy_done": done,
        "proxy_set_effective_context": set_effective_context,
        "proxy_call_foreign_function": call_foreign_function,
    }
