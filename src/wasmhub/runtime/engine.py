"""The wasmtime layer: one shared engine, its epoch ticker, compiled-module cache, and the
fast call paths in both directions.

wasmtime-py's ``Func.__call__`` and its generic host trampoline cost about 17 µs per
crossing (type lookups, ``Val`` boxing). This module uses the same pinned package's raw
"unchecked" C entry points (``wasmtime_func_call_unchecked`` and
``wasmtime_linker_define_func_unchecked``), which cost about 1 µs: arguments and results
travel in a preallocated ``wasmtime_val_raw_t`` array. Everything wasmtime-specific and
private lives here so the rest of the runtime never touches ctypes.

Sandbox: the engine has epoch interruption on; a daemon thread advances the epoch every
``TICK_SECONDS``; each top-level callback gets a deadline in ticks (see
:meth:`GuestFunc.call`). Memory is capped per store (``Store.set_limits``).
"""

from __future__ import annotations

import ctypes
import hashlib
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _bindings as _raw
from wasmtime import _ffi as ffi

from wasmhub.runtime.errors import GuestMemoryError, GuestTrap, HostTrap, ModuleLoadError

TICK_SECONDS = 0.01
_MASK32 = 0xFFFFFFFF

_engines: list[wasmtime.Engine] = []
_engine_lock = threading.Lock()
_modules: dict[str, wasmtime.Module] = {}
_call_unchecked = _raw._wasmtime_func_call_unchecked
_NULL_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()
_TrapPtr = ctypes.POINTER(ffi.wasm_trap_t)
# wasmtime_func_unchecked_callback_t with the argument array as a plain address.
_RawCallback = ctypes.CFUNCTYPE(
    ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


def _ticker(engine: wasmtime.Engine) -> None:
    while True:
        time.sleep(TICK_SECONDS)
        engine.increment_epoch()


def shared_engine() -> wasmtime.Engine:
    """The process-wide engine (epoch interruption on) and its ticker thread."""
    with _engine_lock:
        if not _engines:
            config = wasmtime.Config()
            config.epoch_interruption = True
            config.cranelift_opt_level = "speed"
            # Linear memory never moves, so its base address can be cached (growth past
            # the reservation fails instead; the store's memory cap is far below it).
            ffi.wasmtime_config_memory_may_move_set(config.ptr(), False)
            engine = wasmtime.Engine(config)
            threading.Thread(
                target=_ticker, args=(engine,), name="wasmhub-epoch", daemon=True
            ).start()
            _engines.append(engine)
        return _engines[0]


def compile_module(data: bytes) -> wasmtime.Module:
    """Compile (cached by sha256) or raise ModuleLoadError with wasmtime's reason."""
    key = hashlib.sha256(data).hexdigest()
    module = _modules.get(key)
    if module is None:
        try:
            module = wasmtime.Module(shared_engine(), data)
        except wasmtime.WasmtimeError as exc:
            raise ModuleLoadError(f"not a valid wasm module: {exc}") from exc
        _modules[key] = module
    return module


def deadline_ticks(milliseconds: float) -> int:
    return max(1, int(milliseconds / 1000 / TICK_SECONDS) + 1)


def _error_text(error: Any, trap: Any) -> str:
    if error:
        return _summary(str(wasmtime.WasmtimeError._from_ptr(error)))
    return _summary(str(wasmtime.Trap._from_ptr(trap).message or "trap"))


def _summary(message: str) -> str:
    """The cause of a trap without wasmtime's backtrace ("wasm trap: ..." or host text)."""
    _, found, cause = message.partition("Caused by:")
    text = cause if found else message
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines) if lines else message.strip()


class GuestFunc:
    """A wasm export called through the unchecked path. Not reentrant per instance."""

    __slots__ = ("_args", "_ctx", "_func", "_has_result", "_nargs", "_slots", "_trap",
                 "_trapref", "name", "nparams")

    def __init__(
        self, store: wasmtime.Store, func: wasmtime.Func, name: str, nparams: int,
        has_result: bool,
    ) -> None:
        self.name = name
        self.nparams = nparams
        self._has_result = has_result
        self._ctx = store._context()
        self._func = ctypes.byref(func._func)
        self._args = (ffi.wasmtime_val_raw_t * max(1, nparams))()
        self._nargs = len(self._args)
        # One view per argument slot, made once: indexing the array builds a new object.
        self._slots = tuple(self._args[index] for index in range(self._nargs))
        self._trap = _TrapPtr()
        self._trapref = ctypes.byref(self._trap)

    def __call__(self, *params: int) -> int:
        """Call; return the i32 result as unsigned (0 when the export returns nothing).

        Raises GuestTrap with wasmtime's message on trap, deadline or host-raised trap.
        """
        slots = self._slots
        for index, value in enumerate(params):
            slots[index].i32 = value
        error = _call_unchecked(self._ctx, self._func, self._args, self._nargs, self._trapref)
        if error or self._trap:
            text = _error_text(error, self._trap)
            self._trap = _TrapPtr()
            self._trapref = ctypes.byref(self._trap)
            raise GuestTrap(self.name, text)
        return slots[0].i32 & _MASK32 if self._has_result else 0


HostFn = Callable[..., int | None]


class HostCallbacks:
    """Defines Python host functions on a linker through the unchecked path.

    ``fault`` maps a GuestMemoryError raised by the function to a return code
    (INVALID_MEMORY_ACCESS for proxy_*, FAULT for WASI). Any other exception becomes a trap
    whose Python exception is kept in ``pending_exception`` for the caller to report.
    """

    def __init__(self, linker: wasmtime.Linker) -> None:
        self._linker = linker
        self._keep: list[Any] = []
        self.pending_exception: BaseException | None = None
        self.crossings = 0
        # When a list: every host call is appended as (module.name, result) (None: trapped).
        self.trace: list[tuple[str, int | None]] | None = None

    def define(
        self, module: str, name: str, kinds: str, has_result: bool, fn: HostFn, fault: int,
    ) -> None:

        i32 = wasmtime.ValType.i32()
        i64 = wasmtime.ValType.i64()
        params = [i64 if kind == "I" else i32 for kind in kinds]
        ty = wasmtime.FuncType(params, [i32] if has_result else [])
        # Arguments arrive as an array of 16-byte wasmtime_val_raw_t: one unpack reads them
        # all (i32 as unsigned, i64 signed) without a ctypes object per argument.
        layout = struct.Struct("<" + "".join("q8x" if kind == "I" else "I12x" for kind in kinds))
        unpack, size = layout.unpack, layout.size
        string_at = ctypes.string_at
        result_at = ctypes.c_uint32.from_address
        owner = self
        qualified = f"{module}.{name}"

        @_RawCallback  # type: ignore[untyped-decorator]
        def callback(_env: Any, _caller: Any, args: int, _nargs: int) -> int:
            owner.crossings += 1
            try:
                result = fn(*unpack(string_at(args, size))) if size else fn()
            except GuestMemoryError:
                result = fault
            except HostTrap as exc:
                if owner.trace is not None:
                    owner.trace.append((qualified, None))
                text = str(exc).encode()
                trap = ffi.wasmtime_trap_new(text, len(text))
                return int(ctypes.cast(trap, ctypes.c_void_p).value or 0)
            except BaseException as exc:  # a host bug or nested guest trap: trap the guest
                owner.pending_exception = exc
                text = f"host function {name} failed: {exc}".encode()
                trap = ffi.wasmtime_trap_new(text, len(text))
                return int(ctypes.cast(trap, ctypes.c_void_p).value or 0)
            if has_result:
                result_at(args).value = (result or 0) & _MASK32
            if owner.trace is not None:
                owner.trace.append((qualified, (result or 0) & _MASK32 if has_result else None))
            return 0

        self._keep.append(callback)
        module_b, name_b = module.encode(), name.encode()
        error = ffi.wasmtime_linker_define_func_unchecked(
            self._linker.ptr(), module_b, len(module_b), name_b, len(name_b), ty.ptr(),
            ctypes.cast(callback, ffi.wasmtime_func_unchecked_callback_t), None,
            _NULL_FINALIZER,
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)


class MemoryAccess:
    """Raw view of an instance's exported linear memory.

    The base address is fixed (the engine forbids moving memories); the size is cached and
    re-read only when an access falls beyond it, since memory only grows.
    """

    __slots__ = ("_ctx", "_mem", "base", "size")

    def __init__(self, store: wasmtime.Store, memory: wasmtime.Memory) -> None:
        self._ctx = store._context()
        self._mem = ctypes.byref(memory._memory)
        data = ctypes.cast(ffi.wasmtime_memory_data(self._ctx, self._mem), ctypes.c_void_p)
        self.base: int = data.value or 0
        self.size: int = 0
        self.refresh()

    def refresh(self) -> int:
        self.size = int(ffi.wasmtime_memory_data_size(self._ctx, self._mem))
        return self.size


set_deadline_raw = _raw._wasmtime_context_set_epoch_deadline
