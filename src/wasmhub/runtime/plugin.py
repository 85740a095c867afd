"""``Plugin``: the public face of one loaded plugin on the local host.

Wraps a :class:`PluginVM` (one instance kept across requests), and offers ``http`` for a
request, ``connection`` for a TCP stream, ``advance`` for the virtual clock, and the
plugin's logs and metrics.
"""

from __future__ import annotations

from pathlib import Path

from wasmhub.runtime.abi import AbiVersion
from wasmhub.runtime.http import Upstream, run_http
from wasmhub.runtime.model import (
    HostConfig,
    HttpRequest,
    HttpResult,
    LogEntry,
    PluginFailure,
    UpstreamResponse,
)
from wasmhub.runtime.network import Connection
from wasmhub.runtime.vm import PluginVM, SharedState


class Plugin:
    def __init__(
        self, module: bytes | Path, config: HostConfig | None = None, *,
        shared: SharedState | None = None,
    ) -> None:
        data = module.read_bytes() if isinstance(module, Path) else module
        self.vm = PluginVM(data, config, shared=shared)

    @property
    def abi(self) -> AbiVersion:
        return self.vm.abi

    @property
    def config(self) -> HostConfig:
        return self.vm.config

    def http(
        self, request: HttpRequest | None = None, upstream: Upstream | None = None,
    ) -> HttpResult:
        """Send one request through the filter; the upstream answers with ``upstream``
        (a response, or a function of the request as the upstream saw it)."""
        return run_http(self.vm, request or HttpRequest(), upstream or UpstreamResponse())

    def connection(self) -> Connection:
        return Connection(self.vm)

    def advance(self, milliseconds: int) -> None:
        """Advance the virtual clock; due ``proxy_on_tick`` calls fire in order."""
        self.vm.advance(milliseconds)

    @property
    def now_ns(self) -> int:
        return self.vm.now_ns

    @property
    def logs(self) -> list[LogEntry]:
        return self.vm.logs

    @property
    def metrics(self) -> dict[str, int | list[int]]:
        return self.vm.metric_values()

    @property
    def failure(self) -> PluginFailure | None:
        return self.vm.failure

    @property
    def host_calls(self) -> int:
        return self.vm.host.crossings

    @property
    def guest_calls(self) -> int:
        return self.vm.guest_calls
