"""Host functions for header maps, buffers and stream control.

``proxy_get/set/add/replace/remove_header_map_value``, ``proxy_get/set_header_map_pairs``,
``proxy_get_header_map_size``, ``proxy_get/set_buffer_bytes``,
``proxy_get_buffer_status``, ``proxy_get_configuration`` (0.1.0),
``proxy_continue_stream``/``proxy_close_stream`` (0.2.x),
``proxy_continue_request``/``proxy_continue_response``/``proxy_clear_route_cache`` (0.1.0)
and ``proxy_send_local_response``.

A map or buffer that does not exist in the current phase answers BAD_ARGUMENT (maps) or
NOT_FOUND (buffers); an unknown type answers BAD_ARGUMENT, as Envoy does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wasmhub.runtime.abi import AbiVersion, BufferType, MapType, Status, StreamType
from wasmhub.runtime.contexts import HeaderMap, HttpContext, NetworkContext
from wasmhub.runtime.memory import pairs_size, parse_pairs, serialize_pairs
from wasmhub.runtime.model import LocalReply

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM

_MAP_TYPES = {int(value): value for value in MapType}
_BUFFER_TYPES = {int(value): value for value in BufferType}
_U32_MAX = 0xFFFFFFFF


def functions(vm: PluginVM) -> dict[str, Callable[..., int]]:  # noqa: PLR0915 - closures
    mem = vm.memory
    missing_value_ok = vm.abi is AbiVersion.V0_1_0

    def header_map(map_id: int) -> HeaderMap | int | None:
        map_type = _MAP_TYPES.get(map_id)
        if map_type is None:
            return Status.BAD_ARGUMENT
        overlay = vm.call_overlay
        if map_type in overlay:
            found: HeaderMap | None = overlay[map_type]
            return found
        return vm.current.map(map_type)

    def get_value(map_id: int, key_ptr: int, key_size: int, ret_ptr: int, ret_size: int) -> int:
        target = header_map(map_id)
        if isinstance(target, int):
            return target
        key = mem.read(key_ptr, key_size)
        value = target.get(key) if target is not None else None
        if value is None:
            if target is None and vm.current_phase() != "log":
                return Status.BAD_ARGUMENT
            if not missing_value_ok:
                return Status.NOT_FOUND
            value = b""
        mem.give(value, ret_ptr, ret_size)
        return Status.OK

    def mutate(map_id: int) -> HeaderMap | int:
        target = header_map(map_id)
        if isinstance(target, int):
            return target
        if target is None or map_id in (4, 5, 6, 7):  # call answers are read-only
            return Status.BAD_ARGUMENT
        return target

    def add_value(map_id: int, kp: int, ks: int, vp: int, vs: int) -> int:
        target = mutate(map_id)
        if isinstance(target, int):
            return target
        target.add(mem.read(kp, ks), mem.read(vp, vs))
        return Status.OK

    def replace_value(map_id: int, kp: int, ks: int, vp: int, vs: int) -> int:
        target = mutate(map_id)
        if isinstance(target, int):
            return target
        target.replace(mem.read(kp, ks), mem.read(vp, vs))
        return Status.OK

    def remove_value(map_id: int, kp: int, ks: int) -> int:
        target = mutate(map_id)
        if isinstance(target, int):
            return target
        target.remove(mem.read(kp, ks))
        return Status.OK

    def get_pairs(map_id: int, ret_ptr: int, ret_size: int) -> int:
        target = header_map(map_id)
        if isinstance(target, int):
            return target
        pairs = target.pairs if target is not None else []
        mem.give(serialize_pairs(pairs) if pairs else b"", ret_ptr, ret_size)
        return Status.OK

    def set_pairs(map_id: int, ptr: int, size: int) -> int:
        target = mutate(map_id)
        if isinstance(target, int):
            return target
        try:
            pairs = parse_pairs(mem.read(ptr, size))
        except ValueError:
            return Status.BAD_ARGUMENT
        target.set_all(pairs)
        return Status.OK

    def get_size(map_id: int, ret_size: int) -> int:
        target = header_map(map_id)
        if isinstance(target, int):
            return target
        if target is None:
            return Status.BAD_ARGUMENT
        mem.write_u32(ret_size, pairs_size(target.pairs))
        return Status.OK

    def buffer(buffer_id: int) -> bytearray | int:
        buffer_type = _BUFFER_TYPES.get(buffer_id)
        if buffer_type is None:
            return Status.BAD_ARGUMENT
        overlay = vm.call_overlay
        found = overlay[buffer_type] if buffer_type in overlay else vm.current.buffer(buffer_type)
        if found is None:
            return Status.NOT_FOUND
        data: bytearray = found
        return data

    def get_buffer_bytes(buffer_id: int, start: int, max_size: int, rp: int, rs: int) -> int:
        data = buffer(buffer_id)
        if isinstance(data, int):
            return data
        if start > len(data) or start + max_size < start:
            return Status.BAD_ARGUMENT
        mem.give(bytes(data[start : start + max_size]), rp, rs)
        return Status.OK

    def get_buffer_status(buffer_id: int, ret_size: int, ret_flags: int) -> int:
        data = buffer(buffer_id)
        if isinstance(data, int):
            return data
        mem.write_u32(ret_size, len(data))
        mem.write_u32(ret_flags, 0)
        return Status.OK

    def set_buffer_bytes(buffer_id: int, start: int, size: int, vp: int, vs: int) -> int:
        data = buffer(buffer_id)
        if isinstance(data, int):
            return data
        if buffer_id in (4, 5, 6, 7, 8):  # only stream buffers are writable
            return Status.BAD_ARGUMENT
        value = mem.read(vp, vs)
        if start >= len(data):
            data.extend(value)
        else:
            end = len(data) if size == _U32_MAX else min(len(data), start + size)
            data[start:end] = value
        return Status.OK

    def get_configuration(ret_ptr: int, ret_size: int) -> int:
        # 0.1.0: the plugin configuration, readable in proxy_on_configure.
        data = vm.current.buffer(BufferType.PLUGIN_CONFIGURATION)
        mem.give(bytes(data) if data is not None else b"", ret_ptr, ret_size)
        return Status.OK

    def continue_stream(stream_type: int) -> int:
        ctx = vm.current
        if stream_type not in (0, 1, 2, 3):
            return Status.BAD_ARGUMENT
        if isinstance(ctx, HttpContext) and stream_type in (0, 1):
            if stream_type == StreamType.HTTP_REQUEST:
                ctx.resume_request = True
            else:
                ctx.resume_response = True
            return Status.OK
        if isinstance(ctx, NetworkContext) and stream_type in (2, 3):
            if stream_type == StreamType.DOWNSTREAM:
                ctx.resume_downstream = True
            else:
                ctx.resume_upstream = True
            return Status.OK
        return Status.UNIMPLEMENTED if stream_type in (2, 3) else Status.BAD_ARGUMENT

    def close_stream(stream_type: int) -> int:
        ctx = vm.current
        if stream_type not in (0, 1, 2, 3):
            return Status.BAD_ARGUMENT
        if isinstance(ctx, HttpContext) and stream_type in (0, 1):
            ctx.reset = True
            return Status.OK
        if isinstance(ctx, NetworkContext) and stream_type in (2, 3):
            if stream_type == StreamType.DOWNSTREAM:
                ctx.close_downstream = True
            else:
                ctx.close_upstream = True
            return Status.OK
        return Status.BAD_ARGUMENT

    def send_local_response(
        status: int, dp: int, ds: int, bp: int, bs: int, hp: int, hs: int, grpc: int,
    ) -> int:
        ctx = vm.current
        details = mem.read(dp, ds).decode("utf-8", "replace")
        body = mem.read(bp, bs)
        try:
            pairs = parse_pairs(mem.read(hp, hs))
        except ValueError:
            return Status.BAD_ARGUMENT
        if not isinstance(ctx, HttpContext) or ctx.phase in ("log", "done"):
            return Status.BAD_ARGUMENT
        headers = [(k.decode("utf-8", "replace").lower(), v.decode("utf-8", "replace"))
                   for k, v in pairs]
        grpc_status = None if grpc == _U32_MAX or grpc >= 1 << 31 else grpc
        ctx.local_reply = LocalReply(status, details, body, headers, grpc_status)
        return Status.OK

    def continue_request() -> int:
        return continue_stream(StreamType.HTTP_REQUEST)

    def continue_response() -> int:
        return continue_stream(StreamType.HTTP_RESPONSE)

    def clear_route_cache() -> int:
        return Status.OK

    return {
        "proxy_get_header_map_value": get_value,
        "proxy_add_header_map_value": add_value,
        "proxy_replace_header_map_value": replace_value,
        "proxy_remove_header_map_value": remove_value,
        "proxy_get_header_map_pairs": get_pairs,
        "proxy_set_header_map_pairs": set_pairs,
        "proxy_get_header_map_size": get_size,
        "proxy_get_buffer_bytes": get_buffer_bytes,
        "proxy_get_buffer_status": get_buffer_status,
        "proxy_set_buffer_bytes": set_buffer_bytes,
        "proxy_get_configuration": get_configuration,
        "proxy_continue_stream": continue_stream,
        "proxy_close_stream": close_stream,
        "proxy_send_local_response": send_local_response,
        "proxy_continue_request": continue_request,
        "proxy_continue_response": continue_response,
        "proxy_clear_route_cache": clear_route_cache,
    }
