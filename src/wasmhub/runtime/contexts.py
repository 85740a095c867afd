"""Per-context state the host keeps for the plugin: root (plugin) contexts, HTTP stream
contexts and network connection contexts, and the header map type they share.

A context answers which header maps and buffers exist *right now* (``map``/``buffer``
return None when the ABI says the map or buffer is not available in this phase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasmhub.runtime.abi import BufferType, MapType
from wasmhub.runtime.memory import Pairs


class HeaderMap:
    """Ordered multi-map of lowercase header names, as Envoy's header maps behave."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Pairs | None = None) -> None:
        self.pairs: Pairs = [(key.lower(), value) for key, value in pairs or []]

    @classmethod
    def from_strings(cls, pairs: list[tuple[str, str]]) -> HeaderMap:
        return cls._of([(key.encode().lower(), value.encode()) for key, value in pairs])

    @classmethod
    def _of(cls, pairs: Pairs) -> HeaderMap:
        """A map over ``pairs`` whose names are already lowercase (taken, not copied)."""
        made = cls.__new__(cls)
        made.pairs = pairs
        return made

    def get(self, key: bytes) -> bytes | None:
        key = key.lower()
        values = [value for name, value in self.pairs if name == key]
        if not values:
            return None
        return values[0] if len(values) == 1 else b",".join(values)

    def add(self, key: bytes, value: bytes) -> None:
        self.pairs.append((key.lower(), value))

    def replace(self, key: bytes, value: bytes) -> None:
        """Envoy's ``setCopy``: every value of ``key`` removed, the new one appended."""
        key = key.lower()
        self.pairs = [pair for pair in self.pairs if pair[0] != key]
        self.pairs.append((key, value))

    def set_in_place(self, key: bytes, value: bytes) -> None:
        """Envoy's inline-header setters (content-length, ...): the first value of
        ``key`` is replaced where it is (others dropped), else it is appended."""
        key = key.lower()
        for index, (name, _old) in enumerate(self.pairs):
            if name == key:
                self.pairs[index] = (key, value)
                self.pairs[index + 1 :] = [p for p in self.pairs[index + 1 :] if p[0] != key]
                return
        self.pairs.append((key, value))

    def remove(self, key: bytes) -> None:
        key = key.lower()
        self.pairs = [pair for pair in self.pairs if pair[0] != key]

    def set_all(self, pairs: Pairs) -> None:
        self.pairs = [(key.lower(), value) for key, value in pairs]

    def copy(self) -> HeaderMap:
        return HeaderMap._of(list(self.pairs))

    def strings(self, *, pseudo: bool = True) -> list[tuple[str, str]]:
        return [
            (key.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
            for key, value in self.pairs
            if pseudo or not key.startswith(b":")
        ]

    def __len__(self) -> int:
        return len(self.pairs)


@dataclass
class Context:
    id: int
    root_context_id: int  # 0 for a root context
    properties: dict[str, Any] = field(default_factory=dict)  # proxy_set_property values
    done_pending: bool = False  # proxy_on_done returned false; waits for proxy_done
    closed: bool = False

    def map(self, map_type: MapType) -> HeaderMap | None:
        return None

    def buffer(self, buffer_type: BufferType) -> bytearray | None:
        return None


@dataclass
class RootContext(Context):
    root_id: str = ""
    tick_period_ms: int = 0
    next_tick_ns: int = 0
    vm_configuration: bytearray | None = None  # set during proxy_on_vm_start
    plugin_configuration: bytearray | None = None  # set during proxy_on_configure

    def buffer(self, buffer_type: BufferType) -> bytearray | None:
        if buffer_type is BufferType.VM_CONFIGURATION:
            return self.vm_configuration
        if buffer_type is BufferType.PLUGIN_CONFIGURATION:
            return self.plugin_configuration
        return None


@dataclass
class HttpContext(Context):
    request_headers: HeaderMap | None = None
    request_trailers: HeaderMap | None = None
    response_headers: HeaderMap | None = None
    response_trailers: HeaderMap | None = None
    request_body: bytearray | None = None
    response_body: bytearray | None = None
    # Stream control, set by host calls and consumed by the stream driver.
    request_paused: bool = False
    response_paused: bool = False
    resume_request: bool = False
    resume_response: bool = False
    reset: bool = False
    local_reply: Any = None  # model.LocalReply
    phase: str = "request"  # request | response | log

    def map(self, map_type: MapType) -> HeaderMap | None:
        if map_type is MapType.HTTP_REQUEST_HEADERS:
            return self.request_headers
        if map_type is MapType.HTTP_RESPONSE_HEADERS:
            return self.response_headers
        if map_type is MapType.HTTP_REQUEST_TRAILERS:
            if self.request_trailers is None and self.phase == "request_body_end":
                self.request_trailers = HeaderMap()  # may be added at end of body
            return self.request_trailers
        if map_type is MapType.HTTP_RESPONSE_TRAILERS:
            if self.response_trailers is None and self.phase == "response_body_end":
                self.response_trailers = HeaderMap()
            return self.response_trailers
        return None

    def buffer(self, buffer_type: BufferType) -> bytearray | None:
        if buffer_type is BufferType.HTTP_REQUEST_BODY:
            return self.request_body
        if buffer_type is BufferType.HTTP_RESPONSE_BODY:
            return self.response_body
        return None


@dataclass
class NetworkContext(Context):
    downstream_data: bytearray | None = None
    upstream_data: bytearray | None = None
    downstream_paused: bool = False
    upstream_paused: bool = False
    resume_downstream: bool = False
    resume_upstream: bool = False
    close_downstream: bool = False
    close_upstream: bool = False

    def buffer(self, buffer_type: BufferType) -> bytearray | None:
        if buffer_type is BufferType.DOWNSTREAM_DATA:
            return self.downstream_data
        if buffer_type is BufferType.UPSTREAM_DATA:
            return self.upstream_data
        return None
