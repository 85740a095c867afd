"""The plugin VM: loads a module, detects its ABI, links the host functions, instantiates
it in a sandboxed store, and owns the VM-wide state (contexts, clock, logs, metrics,
pending async events) plus the lifecycle of the root context.

One ``PluginVM`` is one instance kept across requests, as in a proxy worker: plugin state
(counters, caches) persists from request to request. Stream handling lives in
``wasmhub.runtime.http`` and ``wasmhub.runtime.network``; host functions in the
``hostcalls_*`` modules and ``wasi``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from wasmhub.errors import InputError
from wasmhub.runtime import hostcalls_calls, hostcalls_maps, hostcalls_props, hostcalls_shared
from wasmhub.runtime import wasi as wasi_calls
from wasmhub.runtime.abi import (
    ENV_BY_VERSION,
    ENV_COMMON,
    WASI_FUNCS,
    WASI_MODULES,
    AbiVersion,
    Errno,
    LogLevel,
    MetricType,
    Status,
    callback_arity,
    detect_abi,
)
from wasmhub.runtime.contexts import Context, HttpContext, RootContext
from wasmhub.runtime.engine import (
    GuestFunc,
    HostCallbacks,
    MemoryAccess,
    compile_module,
    deadline_ticks,
    set_deadline_raw,
    shared_engine,
)
from wasmhub.runtime.errors import (
    GuestTrap,
    ModuleLoadError,
    PluginFailed,
    PluginStartError,
)
from wasmhub.runtime.memory import GuestMemory
from wasmhub.runtime.model import Clock, HostConfig, LogEntry, OutboundCall, PluginFailure


@dataclass
class Metric:
    name: str
    type: MetricType
    value: int = 0
    samples: list[int] = field(default_factory=list)

    def export(self) -> int | list[int]:
        return list(self.samples) if self.type is MetricType.HISTOGRAM else self.value


@dataclass
class SharedState:
    """Process-wide state shared by VMs: shared data (with CAS) and shared queues."""

    data: dict[tuple[str, bytes], tuple[bytes, int]] = field(default_factory=dict)
    next_cas: int = 1
    queues: dict[int, deque[bytes]] = field(default_factory=dict)
    queue_names: dict[tuple[str, bytes], int] = field(default_factory=dict)
    queue_owner: dict[int, tuple[Any, int]] = field(default_factory=dict)  # vm, root ctx
    next_queue: int = 1

    def cas(self) -> int:
        value = self.next_cas
        self.next_cas = (self.next_cas + 1) & 0xFFFFFFFF or 1
        return value


class PluginVM:
    """A loaded, started plugin (root context created, VM started and configured)."""

    def __init__(
        self, module: bytes, config: HostConfig | None = None, *,
        shared: SharedState | None = None,
    ) -> None:
        self.config = config or HostConfig()
        self.shared = shared or SharedState()
        compiled = compile_module(module)
        export_types = {export.name: export.type for export in compiled.exports}
        abi = detect_abi(list(export_types))
        if abi is None:
            raise ModuleLoadError(
                "Missing or unknown Proxy-Wasm ABI version: the module exports none of "
                "proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1"
            )
        self.abi: AbiVersion = abi
        self.real_clock = self.config.clock is Clock.REAL
        self.now_ns = time.time_ns() if self.real_clock else self.config.start_time_ns
        self.logs: list[LogEntry] = []
        self.metrics: dict[int, Metric] = {}
        self.metric_ids: dict[tuple[MetricType, str], int] = {}
        self.events: deque[Callable[[], None]] = deque()
        self.contexts: dict[int, Context] = {}
        self.calls: list[OutboundCall] = []
        self.pending_calls: dict[int, OutboundCall] = {}
        self.call_overlay: dict[Any, Any] = {}  # maps/buffers of the call being answered
        self.call_status: tuple[int, bytes] = (0, b"")
        self.http_answer_cursor: dict[str, int] = {}  # next declared answer per cluster
        self.failure: PluginFailure | None = None
        self.guest_calls = 0
        self.next_context_id = 1
        self.next_token = 1
        self.callback = ""  # the guest callback running now ("" between callbacks)
        self.exit_code: int | None = None  # set by proc_exit until the callback unwinds
        self._ticks = deadline_ticks(self.config.callback_timeout_ms)
        budget = self.config.cpu_budget_ms
        self._budget_end = None if budget is None else time.monotonic() + budget / 1000

        self.root = self._instantiate(compiled, export_types)

    def _instantiate(self, compiled: wasmtime.Module, export_types: dict[str, Any]
                     ) -> RootContext:
        engine = shared_engine()
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=self.config.memory_limit_bytes)
        self._ctx = self.store._context()
        linker = wasmtime.Linker(engine)
        self.host = HostCallbacks(linker)
        self.current: Context = RootContext(id=0, root_context_id=0)
        self.memory = GuestMemory()
        provided = self._link()
        self._check_imports(compiled, provided)
        self._set_deadline()
        try:
            instance = linker.instantiate(self.store, compiled)
        except wasmtime.WasmtimeError as exc:
            raise ModuleLoadError(f"cannot instantiate the module: {exc}") from exc
        except wasmtime.Trap as exc:
            raise ModuleLoadError(f"the module trapped while starting: {exc.message}") from exc
        exports = instance.exports(self.store)
        memory = exports.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise ModuleLoadError("the module does not export its linear memory as 'memory'")
        self.callbacks = self._callbacks(exports, export_types)
        allocator = self.callbacks.get("proxy_on_memory_allocate") or self.callbacks.get("malloc")
        if allocator is None:
            raise ModuleLoadError(
                "the module exports neither proxy_on_memory_allocate nor malloc"
            )
        self.memory.bind(MemoryAccess(self.store, memory), allocator)
        self._initialize(exports)
        return self._start_root()

    # -- linking -------------------------------------------------------------------

    def _link(self) -> set[tuple[str, str]]:
        provided: set[tuple[str, str]] = set()
        env: dict[str, Callable[..., int | None]] = {}
        for group in (hostcalls_maps, hostcalls_props, hostcalls_shared, hostcalls_calls):
            env.update(group.functions(self))
        signatures = dict(ENV_COMMON)
        signatures.update(ENV_BY_VERSION[self.abi])
        for name, kinds in signatures.items():
            self.host.define("env", name, kinds, True, env[name], Status.INVALID_MEMORY_ACCESS)
            provided.add(("env", name))
        self.host.define("env", "emscripten_notify_memory_growth", "i", False,
                         lambda _index: None, 0)
        provided.add(("env", "emscripten_notify_memory_growth"))
        # emscripten's pthread stub; proxy-wasm-cpp-host (Envoy) provides it the same way.
        self.host.define("env", "pthread_equal", "ii", True,
                         lambda left, right: int(left == right), 0)
        provided.add(("env", "pthread_equal"))
        wasi = wasi_calls.functions(self)
        for module in WASI_MODULES:
            for name, (kinds, has_result) in WASI_FUNCS.items():
                self.host.define(module, name, kinds, has_result, wasi[name], Errno.FAULT)
                provided.add((module, name))
        return provided

    def _check_imports(self, compiled: wasmtime.Module, provided: set[tuple[str, str]]) -> None:
        for item in compiled.imports:
            if (item.module, item.name) in provided:
                continue
            if not isinstance(item.type, wasmtime.FuncType):
                raise ModuleLoadError(
                    f"the module imports a non-function {item.module}.{item.name}; "
                    "the host provides only functions"
                )
            other = [v.value for v, table in ENV_BY_VERSION.items() if item.name in table]
            hint = (f" (the host offers it to ABI {', '.join(other)} modules only; this one "
                    f"declares ABI {self.abi.value})") if other and item.module == "env" else ""
            raise ModuleLoadError(
                f"Failed to load Wasm module due to a missing import: "
                f"{item.module}.{item.name}{hint}"
            )

    def _callbacks(
        self, exports: Any, export_types: dict[str, Any]
    ) -> dict[str, GuestFunc]:
        found: dict[str, GuestFunc] = {}
        for name, (arity, returns) in callback_arity(self.abi).items():
            func = exports.get(name)
            if not isinstance(func, wasmtime.Func):
                continue
            ty = export_types[name]
            params, results = len(ty.params), len(ty.results)
            if params != arity or results != (1 if returns else 0):
                raise ModuleLoadError(
                    f"export {name} takes {params} and returns {results} values; ABI "
                    f"{self.abi.value} needs {arity} params and {int(returns)} result"
                )
            found[name] = GuestFunc(self.store, func, name, arity, returns)
        return found

    def _initialize(self, exports: Any) -> None:
        root = RootContext(id=0, root_context_id=0)
        for name, args in (("_initialize", ()), ("main", (0, 0))):
            func = exports.get(name)
            if name == "main" and "_initialize" not in exports:
                break
            if isinstance(func, wasmtime.Func):
                self._run_init(func, name, args, root)
        if "_initialize" not in exports:
            func = exports.get("_start")
            if isinstance(func, wasmtime.Func):
                self._run_init(func, "_start", (), root)

    def _run_init(self, func: wasmtime.Func, name: str, args: tuple[int, ...],
                  root: RootContext) -> None:
        ty = func.type(self.store)
        guest = GuestFunc(self.store, func, name, len(ty.params), len(ty.results) == 1)
        try:
            self.invoke(guest, root, *args[: len(ty.params)])
        except PluginFailed as exc:
            raise self._start_error(f"plugin failed to initialize: {exc}", "start",
                                    name) from exc

    def _start_error(self, message: str, stage: str, callback: str) -> PluginStartError:
        plugin_logs = [entry for entry in self.logs if entry.source != "host"]
        if plugin_logs:
            shown = "; ".join(entry.message for entry in plugin_logs[-5:])
            message = f"{message} (the plugin logged: {shown})"
        return PluginStartError(message, stage=stage, callback=callback,
                                plugin_logs=plugin_logs)

    def _start_root(self) -> RootContext:
        root = RootContext(id=self.new_context_id(), root_context_id=0,
                           root_id=self.config.root_id)
        self.contexts[root.id] = root
        callback = "proxy_on_context_create"
        try:
            self.call(callback, root, root.id, 0)
            callback = "proxy_on_vm_start"
            root.vm_configuration = bytearray(self.config.vm_config)
            ok = self.call(callback, root, root.id, len(self.config.vm_config))
            root.vm_configuration = None
            if ok == 0:
                raise self._start_error("proxy_on_vm_start returned false: the plugin "
                                        "rejected its VM configuration", "start", callback)
            callback = "proxy_on_configure"
            root.plugin_configuration = bytearray(self.config.plugin_config)
            ok = self.call(callback, root, root.id, len(self.config.plugin_config))
            root.plugin_configuration = None
            if ok == 0:
                raise self._start_error("proxy_on_configure returned false: the plugin "
                                        "rejected its configuration", "configure", callback)
            self.drain()
        except PluginFailed as exc:
            stage = "configure" if callback == "proxy_on_configure" else "start"
            raise self._start_error(f"plugin failed to start: {exc}", stage,
                                    callback) from exc
        return root

    # -- calling the guest -----------------------------------------------------------

    def new_context_id(self) -> int:
        value = self.next_context_id
        self.next_context_id += 1
        return value

    def _callback_ticks(self) -> int:
        """The next callback's deadline: the per-callback one, or less when the whole
        VM's budget (``HostConfig.cpu_budget_ms``) runs out sooner."""
        if self._budget_end is None:
            return self._ticks
        left_ms = max(0.0, (self._budget_end - time.monotonic()) * 1000)
        return min(self._ticks, deadline_ticks(left_ms))

    def _set_deadline(self) -> None:
        set_deadline_raw(self._ctx, self._callback_ticks())

    def call(self, name: str, ctx: Context, *args: int) -> int | None:
        """Call callback ``name`` (None if the module does not export it)."""
        func = self.callbacks.get(name)
        if func is None:
            return None
        return self.invoke(func, ctx, *args)

    def invoke(self, func: GuestFunc, ctx: Context, *args: int) -> int:
        previous, previous_callback = self.current, self.callback
        self.current, self.callback = ctx, func.name
        set_deadline_raw(self._ctx, self._callback_ticks())
        self.guest_calls += 1
        try:
            return func(*args)
        except GuestTrap as trap:
            if self.exit_code == 0 and func.name in ("_start", "main"):
                # A command's main returned and its runtime called proc_exit(0): the
                # program finished, it did not fail; the instance stays usable, as in Envoy.
                return 0
            pending = self.host.pending_exception
            self.host.pending_exception = None
            if pending is not None and not isinstance(pending, GuestTrap | PluginFailed):
                raise pending from None
            failure = PluginFailure(trap.callback, trap.message, ctx.id)
            self.failure = failure
            self.log(LogLevel.CRITICAL, f"Plugin Crash: {failure.describe()}", ctx.id, "host")
            raise PluginFailed(failure) from None
        finally:
            self.current, self.callback = previous, previous_callback
            self.exit_code = None

    def current_phase(self) -> str:
        ctx = self.current
        return ctx.phase if isinstance(ctx, HttpContext) else "root"

    def drain(self) -> None:
        """Deliver pending async events (call answers, queue-ready) as a proxy loop would."""
        events = self.events
        while events:
            events.popleft()()

    # -- host-side helpers -----------------------------------------------------------

    def log(self, level: LogLevel, message: str, context_id: int, source: str) -> None:
        if level >= self.config.log_level:
            self.logs.append(LogEntry(level, message, context_id, source, self.callback))

    def clock_ns(self) -> int:
        """Now, as the plugin sees it (wall clock or virtual clock)."""
        return time.time_ns() if self.real_clock else self.now_ns

    def monotonic_ns(self) -> int:
        if self.real_clock:
            return time.monotonic_ns()
        return self.now_ns  # never zero: language runtimes treat 0 as a broken clock

    def catch_up(self) -> None:
        """On the real clock: fire the ``proxy_on_tick`` calls that came due since the
        last request (a proxy's timers run between requests; this host has no loop)."""
        if not self.real_clock or self.failure is not None:
            return
        now = time.time_ns()
        for ctx in list(self.contexts.values()):
            # A proxy's timer fires once and re-arms a period later: missed periods
            # do not pile up.
            if isinstance(ctx, RootContext) and ctx.tick_period_ms and ctx.next_tick_ns <= now:
                ctx.next_tick_ns = now + ctx.tick_period_ms * 1_000_000
                self.call("proxy_on_tick", ctx, ctx.id)
                self.drain()

    def advance(self, milliseconds: int) -> None:
        """Advance the virtual clock, firing ``proxy_on_tick`` for each elapsed period."""
        if self.real_clock:
            raise InputError("this plugin runs on the real clock, which cannot be "
                             "advanced; use the virtual clock (the default) to advance time")
        self._run_ticks(self.now_ns + milliseconds * 1_000_000)

    def _run_ticks(self, target: int) -> None:
        while True:
            due = [
                ctx for ctx in self.contexts.values()
                if isinstance(ctx, RootContext) and ctx.tick_period_ms
                and ctx.next_tick_ns <= target
            ]
            if not due:
                break
            ctx = min(due, key=lambda item: item.next_tick_ns)
            self.now_ns = max(self.now_ns, ctx.next_tick_ns)
            ctx.next_tick_ns += ctx.tick_period_ms * 1_000_000
            self.call("proxy_on_tick", ctx, ctx.id)
            self.drain()
        self.now_ns = target

    def metric_values(self) -> dict[str, int | list[int]]:
        return {metric.name: metric.export() for metric in self.metrics.values()}

    def finish_context(self, ctx: Context) -> None:
        """on_done, then on_log and on_delete unless the plugin defers with false."""
        done = self.call("proxy_on_done", ctx, ctx.id)
        if done == 0:
            ctx.done_pending = True
            return
        self.release_context(ctx)

    def release_context(self, ctx: Context) -> None:
        ctx.done_pending = False
        self.call("proxy_on_log", ctx, ctx.id)
        self.call("proxy_on_delete", ctx, ctx.id)
        ctx.closed = True
        self.contexts.pop(ctx.id, None)

    def queue_ready(self, root_id: int, queue_id: int) -> None:
        ctx = self.contexts.get(root_id)
        if ctx is not None and self.failure is None:
            self.call("proxy_on_queue_ready", ctx, root_id, queue_id)
