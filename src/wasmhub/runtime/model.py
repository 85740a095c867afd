"""Plain data the runtime takes and returns: host configuration, a request, the upstream's
answer, declared answers for outbound calls, and the result of one request.

Header lists are ``(name, value)`` string pairs; the host lowercases names like Envoy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wasmhub.runtime.abi import LogLevel

StrPairs = list[tuple[str, str]]
DEFAULT_START_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z, the virtual clock's zero


class Clock(StrEnum):
    """Which time the plugin sees. ``virtual`` (``wasmhub test``): starts at
    ``start_time_ns`` and moves only when the test advances it, so timers are
    deterministic. ``real`` (``wasmhub run``, the playground): wall-clock time, and due
    ``proxy_on_tick`` calls fire before each request, as a proxy's timers would have."""

    VIRTUAL = "virtual"
    REAL = "real"


class FailStrategy(StrEnum):
    FAIL_CLOSED = "fail_closed"
    FAIL_OPEN = "fail_open"


@dataclass
class HttpCallAnswer:
    """Declared answer to ``proxy_http_call`` on ``cluster``; ``fail`` = connection failure."""

    cluster: str
    status: int = 200
    headers: StrPairs = field(default_factory=list)
    body: bytes = b""
    trailers: StrPairs = field(default_factory=list)
    fail: bool = False


@dataclass
class GrpcAnswer:
    """Declared answer to ``proxy_grpc_call``/``proxy_grpc_stream`` on ``cluster``.

    ``service``/``method`` of None match any. ``status`` is the gRPC status code (0 = OK);
    ``messages`` are delivered in order (one ``proxy_on_grpc_receive`` each).
    """

    cluster: str
    service: str | None = None
    method: str | None = None
    status: int = 0
    status_message: str = ""
    messages: list[bytes] = field(default_factory=list)
    initial_metadata: StrPairs = field(default_factory=list)
    trailing_metadata: StrPairs = field(default_factory=list)


@dataclass
class HostConfig:
    plugin_config: bytes = b""
    vm_config: bytes = b""
    vm_env: dict[str, str] = field(default_factory=dict)
    root_id: str = ""
    vm_id: str = ""
    plugin_name: str = "wasmhub-plugin"
    properties: dict[str, Any] = field(default_factory=dict)
    fail_strategy: FailStrategy = FailStrategy.FAIL_CLOSED
    callback_timeout_ms: float = 1000.0
    # Wall-clock budget of every callback of this VM together, from its creation (None:
    # unbounded); a callback started near its end gets only what is left (the playground).
    cpu_budget_ms: float | None = None
    memory_limit_bytes: int = 1 << 30  # proxy-wasm-cpp-host's default cap
    log_level: LogLevel = LogLevel.TRACE
    start_time_ns: int = DEFAULT_START_NS
    clock: Clock = Clock.VIRTUAL
    # Add the request headers Envoy's connection manager adds before any filter runs
    # (x-forwarded-proto, x-request-id) when the client did not send them.
    proxy_request_headers: bool = True
    http_calls: list[HttpCallAnswer] = field(default_factory=list)
    grpc_calls: list[GrpcAnswer] = field(default_factory=list)


@dataclass
class HttpRequest:
    method: str = "GET"
    path: str = "/"
    headers: StrPairs = field(default_factory=list)
    body: bytes = b""
    trailers: StrPairs = field(default_factory=list)
    authority: str = "example.com"
    scheme: str = "http"
    body_chunks: list[bytes] | None = None  # overrides ``body`` to send several chunks

    def chunks(self) -> list[bytes]:
        if self.body_chunks is not None:
            return [chunk for chunk in self.body_chunks if chunk]
        return [self.body] if self.body else []


@dataclass
class UpstreamResponse:
    status: int = 200
    headers: StrPairs = field(default_factory=list)
    body: bytes = b""
    trailers: StrPairs = field(default_factory=list)
    body_chunks: list[bytes] | None = None

    def chunks(self) -> list[bytes]:
        if self.body_chunks is not None:
            return [chunk for chunk in self.body_chunks if chunk]
        return [self.body] if self.body else []


@dataclass
class LogEntry:
    level: LogLevel
    message: str
    context_id: int
    source: str = "proxy_log"  # proxy_log | stdout | stderr | host
    callback: str = ""  # the guest callback that was running ("" outside any)

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level.name.lower(), "message": self.message,
                "context_id": self.context_id, "source": self.source,
                "callback": self.callback}


@dataclass
class PluginFailure:
    """A callback trapped or hit its deadline; the VM is failed from then on."""

    callback: str
    message: str
    context_id: int

    @property
    def timed_out(self) -> bool:
        return "interrupt" in self.message

    def describe(self) -> str:
        what = "exceeded its deadline" if self.timed_out else "trapped"
        return f"{self.callback} (context {self.context_id}) {what}: {self.message}"


@dataclass
class LocalReply:
    status: int
    details: str
    body: bytes
    headers: StrPairs
    grpc_status: int | None


@dataclass
class OutboundCall:
    """A ``proxy_http_call`` or ``proxy_grpc_call`` the plugin made."""

    kind: str  # http | grpc
    cluster: str
    token: int
    context_id: int
    headers: StrPairs
    body: bytes
    timeout_ms: int
    service: str = ""
    method: str = ""
    answered: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "cluster": self.cluster, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace"), "timeout_ms": self.timeout_ms,
                "service": self.service, "method": self.method, "answered": self.answered}


@dataclass
class UpstreamRequest:
    headers: StrPairs
    body: bytes
    trailers: StrPairs

    def header(self, name: str) -> str | None:
        return _lookup(self.headers, name)


@dataclass
class HttpResult:
    """What happened to one request. ``status`` is None if the client got no response
    (the stream was reset, or the filter paused it and nothing resumed it)."""

    status: int | None
    headers: StrPairs
    body: bytes
    trailers: StrPairs
    upstream_request: UpstreamRequest | None
    local_reply: LocalReply | None = None
    reset: bool = False
    stalled: str | None = None
    failure: PluginFailure | None = None
    logs: list[LogEntry] = field(default_factory=list)
    calls: list[OutboundCall] = field(default_factory=list)
    context_id: int = 0
    host_calls: int = 0
    guest_calls: int = 0

    @property
    def reached_upstream(self) -> bool:
        return self.upstream_request is not None

    def header(self, name: str) -> str | None:
        return _lookup(self.headers, name)

    def to_json(self) -> dict[str, Any]:
        upstream = self.upstream_request
        return {
            "status": self.status,
            "headers": [list(pair) for pair in self.headers],
            "body": self.body.decode("utf-8", "replace"),
            "trailers": [list(pair) for pair in self.trailers],
            "reached_upstream": upstream is not None,
            "upstream_request": None if upstream is None else {
                "headers": [list(pair) for pair in upstream.headers],
                "body": upstream.body.decode("utf-8", "replace"),
                "trailers": [list(pair) for pair in upstream.trailers],
            },
            "local_reply": None if self.local_reply is None else {
                "status": self.local_reply.status, "details": self.local_reply.details},
            "reset": self.reset,
            "stalled": self.stalled,
            "failure": None if self.failure is None else {
                "callback": self.failure.callback, "message": self.failure.message,
                "context_id": self.failure.context_id, "timed_out": self.failure.timed_out},
            "logs": [entry.to_json() for entry in self.logs],
            "calls": [call.to_json() for call in self.calls],
            "host_calls": self.host_calls,
            "guest_calls": self.guest_calls,
        }


def _lookup(headers: StrPairs, name: str) -> str | None:
    wanted = name.lower()
    values = [value for key, value in headers if key == wanted]
    return ",".join(values) if values else None
