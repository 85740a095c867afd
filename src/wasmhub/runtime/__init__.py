"""Local proxy-wasm runtime: a host for proxy-wasm ABI 0.1.0, 0.2.0 and 0.2.1 on wasmtime,
and the declarative test harness (``wasmhub test``).

Public API: :class:`Plugin` (load a module, send requests, advance the virtual clock),
:class:`Harness` (run a test file or cases from Python), the request/response data types
and :func:`resolve_module`. See docs/testing-filters.md.
"""

from __future__ import annotations

from wasmhub.runtime.abi import AbiVersion, LogLevel, Status
from wasmhub.runtime.errors import (
    ModuleLoadError,
    ModuleResolveError,
    PluginStartError,
    TestFileError,
)
from wasmhub.runtime.model import (
    Clock,
    FailStrategy,
    GrpcAnswer,
    HostConfig,
    HttpCallAnswer,
    HttpRequest,
    HttpResult,
    LogEntry,
    PluginFailure,
    UpstreamRequest,
    UpstreamResponse,
)
from wasmhub.runtime.plugin import Plugin

__all__ = [
    "AbiVersion",
    "Clock",
    "FailStrategy",
    "GrpcAnswer",
    "HostConfig",
    "HttpCallAnswer",
    "HttpRequest",
    "HttpResult",
    "LogEntry",
    "LogLevel",
    "ModuleLoadError",
    "ModuleResolveError",
    "Plugin",
    "PluginFailure",
    "PluginStartError",
    "Status",
    "TestFileError",
    "UpstreamRequest",
    "UpstreamResponse",
]
