"""Host functions for logging, time, timers, metrics and properties.

``proxy_log``, ``proxy_get_log_level`` (0.2.1), ``proxy_get_current_time_nanoseconds``
(the virtual clock), ``proxy_set_tick_period_milliseconds``, ``proxy_define_metric``,
``proxy_increment_metric``, ``proxy_record_metric``, ``proxy_get_metric``,
``proxy_get_property`` and ``proxy_set_property``.

Properties are looked up by their path (tokens joined by NUL in the ABI, or by dots):
first values the plugin set on this context, then the host configuration's
``properties`` (a test's declared values), then values derived from the stream (see
``builtin_property``). Encoding follows Envoy: strings raw, integers 8-byte little-endian,
booleans one byte, string maps in the header-map pair format, other structures as JSON.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wasmhub.runtime.abi import LogLevel, MetricType, Status
from wasmhub.runtime.contexts import Context, HeaderMap, HttpContext, NetworkContext, RootContext
from wasmhub.runtime.memory import serialize_pairs

if TYPE_CHECKING:
    from wasmhub.runtime.vm import Metric, PluginVM

_LEVELS = {int(value): value for value in LogLevel}
DEFAULT_SOURCE = "127.0.0.1:40000"
DEFAULT_DESTINATION = "127.0.0.1:10000"


def encode_property(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, HeaderMap):
        return serialize_pairs(value.pairs)
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return struct.pack("<q", value)
    if isinstance(value, float):
        return struct.pack("<d", value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return serialize_pairs([(str(k).encode(), v.encode()) for k, v in value.items()])
    return json.dumps(value, separators=(",", ":")).encode()


def _port(address: str) -> int | None:
    host, _, port = address.rpartition(":")
    return int(port) if host and port.isdigit() else None


def builtin_property(vm: PluginVM, ctx: Context, path: str) -> Any:
    """Values a proxy derives itself; None when it has none for ``path``."""
    config = vm.config
    static: dict[str, Any] = {
        "plugin_name": config.plugin_name,
        "plugin_root_id": config.root_id,
        "plugin_vm_id": config.vm_id,
        "node.id": "wasmhub-local",
        "node.cluster": "wasmhub",
        "listener_direction": 1,  # INBOUND
    }
    if path in static:
        return static[path]
    properties = config.properties
    if path in ("source.port", "destination.port"):
        side = path.split(".", maxsplit=1)[0]
        default = DEFAULT_SOURCE if side == "source" else DEFAULT_DESTINATION
        return _port(str(properties.get(f"{side}.address", default)))
    if path == "source.address":
        return DEFAULT_SOURCE
    if path == "destination.address":
        return DEFAULT_DESTINATION
    if path == "connection.id":
        return ctx.id
    if path == "connection.mtls":
        return False
    if isinstance(ctx, HttpContext):
        return _http_property(vm, ctx, path)
    if isinstance(ctx, NetworkContext) and path == "connection.requested_server_name":
        return ""
    return None


def _http_property(vm: PluginVM, ctx: HttpContext, path: str) -> Any:
    request = ctx.request_headers
    response = ctx.response_headers
    if path.startswith("request.") and request is not None:
        name = path[len("request."):]
        header = {"path": b":path", "host": b":authority", "method": b":method",
                  "scheme": b":scheme", "referer": b"referer", "useragent": b"user-agent",
                  "id": b"x-request-id"}.get(name)
        if header is not None:
            value = request.get(header)
            return None if value is None else value
        if name == "headers":
            return request
        if name in ("url_path", "query"):
            full = request.get(b":path") or b""
            before, _, after = full.partition(b"?")
            return before if name == "url_path" else after
        if name == "protocol":
            return "HTTP/1.1"
        if name == "time":
            return vm.clock_ns()
        if name in ("size", "total_size"):
            return len(ctx.request_body or b"")
    if path.startswith("response.") and response is not None:
        name = path[len("response."):]
        if name == "code":
            code = response.get(b":status")
            return int(code) if code and code.isdigit() else None
        if name == "headers":
            return response
        if name == "trailers" and ctx.response_trailers is not None:
            return ctx.response_trailers
        if name == "code_details":
            return "via_upstream" if ctx.local_reply is None else ctx.local_reply.details
        if name in ("size", "total_size"):
            return len(ctx.response_body or b"")
        if name == "flags":
            return 0
    return None


def root_of(vm: PluginVM, ctx: Context) -> RootContext | None:
    if isinstance(ctx, RootContext):
        return ctx
    root = vm.contexts.get(ctx.root_context_id)
    return root if isinstance(root, RootContext) else None


def lookup_property(vm: PluginVM, ctx: Context, path: str) -> Any:
    """The value of property ``path`` (dotted) as ``ctx`` sees it, None when there is none:
    what the plugin set on this context, then on its root context, then the host
    configuration's declared ``properties``, then what the proxy derives itself. The one
    lookup behind ``proxy_get_property`` and the CEL attributes (wasmhub.runtime.cel)."""
    value: Any = ctx.properties.get(path)
    if value is None:
        root = root_of(vm, ctx)
        if root is not None and root is not ctx:
            value = root.properties.get(path)
    if value is None:
        value = vm.config.properties.get(path)
    if value is None:
        value = builtin_property(vm, ctx, path)
    return value


def functions(vm: PluginVM) -> dict[str, Callable[..., int]]:  # noqa: PLR0915 - closures
    mem = vm.memory

    def log(level: int, ptr: int, size: int) -> int:
        log_level = _LEVELS.get(level)
        if log_level is None:
            return Status.BAD_ARGUMENT
        if log_level < vm.config.log_level:  # dropped, as a proxy does (after the check)
            mem.check(ptr, size)
            return Status.OK
        message = mem.read(ptr, size).decode("utf-8", "replace")
        vm.log(log_level, message, vm.current.id, "proxy_log")
        return Status.OK

    def get_log_level(ret: int) -> int:
        mem.write_u32(ret, int(vm.config.log_level))
        return Status.OK

    def current_time(ret: int) -> int:
        mem.write_u64(ret, vm.clock_ns())
        return Status.OK

    def set_tick_period(period: int) -> int:
        root = root_of(vm, vm.current)
        if root is None:
            return Status.BAD_ARGUMENT
        root.tick_period_ms = period
        root.next_tick_ns = vm.clock_ns() + period * 1_000_000
        return Status.OK

    def define_metric(metric_type: int, np: int, ns: int, ret_id: int) -> int:
        if metric_type not in (0, 1, 2):
            return Status.BAD_ARGUMENT
        name = mem.read(np, ns).decode("utf-8", "replace")
        mem.check(ret_id, 4)
        kind = MetricType(metric_type)
        metric_id = vm.metric_ids.get((kind, name))
        if metric_id is None:
            from wasmhub.runtime.vm import Metric

            metric_id = len(vm.metrics) + 1
            vm.metrics[metric_id] = Metric(name, kind)
            vm.metric_ids[(kind, name)] = metric_id
        mem.write_u32(ret_id, metric_id)
        return Status.OK

    def metric(metric_id: int) -> Metric | None:
        return vm.metrics.get(metric_id)

    def increment_metric(metric_id: int, delta: int) -> int:
        found = metric(metric_id)
        if found is None:
            return Status.NOT_FOUND
        if found.type is MetricType.HISTOGRAM or (
            found.type is MetricType.COUNTER and delta < 0
        ):
            return Status.BAD_ARGUMENT
        found.value += delta
        return Status.OK

    def record_metric(metric_id: int, value: int) -> int:
        found = metric(metric_id)
        if found is None:
            return Status.NOT_FOUND
        value &= 0xFFFFFFFFFFFFFFFF
        if found.type is MetricType.COUNTER:
            found.value += value
        elif found.type is MetricType.GAUGE:
            found.value = value
        else:
            found.samples.append(value)
        return Status.OK

    def get_metric(metric_id: int, ret: int) -> int:
        found = metric(metric_id)
        if found is None:
            return Status.NOT_FOUND
        if found.type is MetricType.HISTOGRAM:
            return Status.BAD_ARGUMENT
        mem.write_u64(ret, found.value)
        return Status.OK

    def property_path(ptr: int, size: int) -> str:
        raw = mem.read(ptr, size).rstrip(b"\0")
        return raw.replace(b"\0", b".").decode("utf-8", "replace")

    def get_property(pp: int, ps: int, rp: int, rs: int) -> int:
        value = lookup_property(vm, vm.current, property_path(pp, ps))
        if value is None:
            return Status.NOT_FOUND
        mem.give(encode_property(value), rp, rs)
        return Status.OK

    def set_property(pp: int, ps: int, vp: int, vs: int) -> int:
        path = property_path(pp, ps)
        vm.current.properties[path] = mem.read(vp, vs)
        return Status.OK

    return {
        "proxy_log": log,
        "proxy_get_log_level": get_log_level,
        "proxy_get_current_time_nanoseconds": current_time,
        "proxy_set_tick_period_milliseconds": set_tick_period,
        "proxy_define_metric": define_metric,
        "proxy_increment_metric": increment_metric,
        "proxy_record_metric": record_metric,
        "proxy_get_metric": get_metric,
        "proxy_get_property": get_property,
        "proxy_set_property": set_property,
    }
