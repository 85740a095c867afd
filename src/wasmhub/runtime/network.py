"""Drives a TCP connection through the plugin's network-filter callbacks.

``proxy_on_context_create`` → ``proxy_on_new_connection`` → ``proxy_on_downstream_data`` /
``proxy_on_upstream_data`` per chunk (DOWNSTREAM_DATA / UPSTREAM_DATA buffers; Pause
buffers until ``proxy_continue_stream`` or a later Continue) → close callbacks →
``proxy_on_done``/``proxy_on_log``/``proxy_on_delete``. ``proxy_close_stream`` closes the
connection. A trap fails the VM: fail-open passes data through, fail-closed closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmhub.runtime.abi import PeerType
from wasmhub.runtime.contexts import NetworkContext
from wasmhub.runtime.errors import PluginFailed
from wasmhub.runtime.model import FailStrategy, LogEntry, PluginFailure
from wasmhub.runtime.vm import PluginVM


@dataclass
class ConnectionResult:
    to_upstream: bytes = b""
    to_downstream: bytes = b""
    closed: bool = False
    failure: PluginFailure | None = None
    logs: list[LogEntry] = field(default_factory=list)


class Connection:
    """One downstream connection and its upstream, with the plugin in between."""

    def __init__(self, vm: PluginVM) -> None:
        self.vm = vm
        self.ctx = NetworkContext(id=vm.new_context_id(), root_context_id=vm.root.id,
                                  downstream_data=bytearray(), upstream_data=bytearray())
        self.result = ConnectionResult()
        self._log_start = len(vm.logs)
        self.dead = vm.failure is not None
        vm.contexts[self.ctx.id] = self.ctx
        if self.dead:
            self._fail_existing()
        else:
            self._cb("proxy_on_context_create", self.ctx.id, vm.root.id)
            self._cb("proxy_on_new_connection", self.ctx.id)

    def _fail_existing(self) -> None:
        if self.vm.config.fail_strategy is FailStrategy.FAIL_CLOSED:
            self.result.closed = True
        self.result.failure = self.vm.failure

    def _cb(self, name: str, *args: int) -> int:
        if self.dead:
            return 0
        try:
            action = self.vm.call(name, self.ctx, *args)
            self.vm.drain()
        except PluginFailed as exc:
            self.dead = True
            self.result.failure = exc.failure  # type: ignore[assignment]
            if self.vm.config.fail_strategy is FailStrategy.FAIL_CLOSED:
                self.result.closed = True
            return 0
        return 0 if action is None else action

    def _data(self, downstream: bool, data: bytes, end_of_stream: bool) -> None:
        ctx = self.ctx
        if self.result.closed:
            return
        buffer = ctx.downstream_data if downstream else ctx.upstream_data
        assert buffer is not None
        buffer += data
        name = "proxy_on_downstream_data" if downstream else "proxy_on_upstream_data"
        action = self._cb(name, ctx.id, len(buffer), int(end_of_stream))
        resumed = ctx.resume_downstream if downstream else ctx.resume_upstream
        ctx.resume_downstream = ctx.resume_upstream = False
        if ctx.close_downstream or ctx.close_upstream:
            self.result.closed = True
            return
        if action == 0 or resumed:
            if downstream:
                self.result.to_upstream += bytes(buffer)
            else:
                self.result.to_downstream += bytes(buffer)
            del buffer[:]

    def downstream(self, data: bytes, end_of_stream: bool = False) -> None:
        """Bytes from the client toward the upstream."""
        self._data(True, data, end_of_stream)

    def upstream(self, data: bytes, end_of_stream: bool = False) -> None:
        """Bytes from the upstream toward the client."""
        self._data(False, data, end_of_stream)

    def close(self, peer: PeerType = PeerType.REMOTE) -> ConnectionResult:
        ctx = self.ctx
        self._cb("proxy_on_downstream_connection_close", ctx.id, int(peer))
        self._cb("proxy_on_upstream_connection_close", ctx.id, int(PeerType.LOCAL))
        self.result.closed = True
        if not self.dead:
            try:
                self.vm.finish_context(ctx)
                self.vm.drain()
            except PluginFailed as exc:
                self.result.failure = exc.failure  # type: ignore[assignment]
        self.result.logs = self.vm.logs[self._log_start:]
        return self.result
