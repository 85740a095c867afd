"""WASI preview1 as a proxy offers it to plugins: every function, under both
``wasi_snapshot_preview1`` and ``wasi_unstable``, following proxy-wasm-cpp-host (Envoy's
host) where it implements one and the WASI spec's errors where a proxy has nothing to give.

A proxy gives a plugin no files, no directories and no sockets:

- ``fd_write`` on stdout/stderr is a plugin log line (INFO/ERROR), one per call with one
  trailing newline removed, exactly as Envoy logs it; any other descriptor is BADF.
- ``fd_read`` is NOSYS (reading is not supported, as in Envoy); ``fd_fdstat_get`` answers
  for stdout/stderr only (file type unknown, right ``fd_write``), else BADF;
  ``fd_prestat_get`` is BADF (no pre-opened directories, so libc finds none) and
  ``fd_prestat_dir_name`` NOSYS; ``path_open`` is NOENT (nothing to open);
  ``fd_seek`` on stdio is SPIPE.
- every other ``fd_*`` call: SUCCESS for a no-op on stdio (``fd_fdstat_set_flags``,
  ``fd_sync``, ``fd_datasync``, ``fd_advise``), BADF on any other descriptor, NOSYS where
  stdio cannot do it; every other ``path_*`` call and every ``sock_*`` call is NOSYS.
- ``environ_*`` expose the VM environment from the host configuration (never the host's
  own), ``args_*`` are empty, ``random_get`` is OS randomness, ``sched_yield`` succeeds,
  ``poll_oneoff`` answers every subscription at once (see there), ``proc_raise`` NOSYS.
- ``clock_time_get``/``clock_res_get``: realtime and monotonic from the host's clock (the
  virtual clock under ``wasmhub test``, real time under ``wasmhub run``); CPU-time clocks
  NOTSUP, as in Envoy.
- ``proc_exit`` stops the plugin with its exit code; ``proc_exit(0)`` from a command's
  ``_start`` ends ``_start`` normally (see :meth:`wasmhub.runtime.vm.PluginVM.invoke`).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from wasmhub.runtime.abi import WASI_FUNCS, Errno, LogLevel
from wasmhub.runtime.errors import HostTrap

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM

_RANDOM_LIMIT = 1 << 16
_STDIO = (0, 1, 2)
# fd_* calls that are a harmless no-op on stdio (and BADF elsewhere).
_STDIO_NOOPS = ("fd_fdstat_set_flags", "fd_sync", "fd_datasync", "fd_advise")
# fd_* calls stdio cannot do (NOSYS there, BADF on any other descriptor).
_STDIO_UNSUPPORTED = ("fd_allocate", "fd_fdstat_set_rights", "fd_filestat_get",
                      "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
                      "fd_pwrite", "fd_readdir", "fd_renumber", "fd_tell")


def _fd_call(name: str, outcome: int) -> Callable[..., int]:
    def call(fd: int, *_args: int) -> int:
        return outcome if fd in _STDIO else Errno.BADF

    call.__name__ = name
    return call


def _always(name: str, errno: int) -> Callable[..., int]:
    def call(*_args: int) -> int:
        return errno

    call.__name__ = name
    return call


def functions(vm: PluginVM) -> dict[str, Callable[..., int | None]]:  # noqa: PLR0915
    mem = vm.memory

    def environment() -> list[bytes]:
        return [f"{key}={value}".encode() + b"\0" for key, value in vm.config.vm_env.items()]

    def fd_write(fd: int, iovs: int, count: int, ret: int) -> int:
        if fd not in (1, 2):
            return Errno.BADF
        vectors = mem.read(iovs, 8 * count)
        data = b"".join(
            mem.read(*struct.unpack_from("<II", vectors, 8 * index)) for index in range(count)
        )
        if data:
            text = data[:-1] if data.endswith(b"\n") else data
            level = LogLevel.INFO if fd == 1 else LogLevel.ERROR
            vm.log(level, text.decode("utf-8", "replace"), vm.current.id,
                   "stdout" if fd == 1 else "stderr")
        mem.write_u32(ret, len(data))
        return Errno.SUCCESS

    def fd_seek(fd: int, _offset: int, _whence: int, _ret: int) -> int:
        return Errno.SPIPE if fd in _STDIO else Errno.BADF

    def fd_close(fd: int) -> int:
        return Errno.SUCCESS if fd in _STDIO else Errno.BADF

    def fd_fdstat_get(fd: int, ret: int) -> int:
        if fd not in (1, 2):
            return Errno.BADF
        # As proxy-wasm-cpp-host: file type unknown, no flags, rights: fd_write (bit 6).
        mem.write(ret, struct.pack("<QQQ", 0, 1 << 6, 0))
        return Errno.SUCCESS

    def clock_time_get(clock_id: int, _precision: int, ret: int) -> int:
        if clock_id not in (0, 1):
            return Errno.NOTSUP
        mem.write_u64(ret, vm.clock_ns() if clock_id == 0 else vm.monotonic_ns())
        return Errno.SUCCESS

    def clock_res_get(clock_id: int, ret: int) -> int:
        if clock_id not in (0, 1):
            return Errno.NOTSUP
        mem.write_u64(ret, 1)
        return Errno.SUCCESS

    def random_get(ptr: int, size: int) -> int:
        if size > _RANDOM_LIMIT:
            return Errno.INVAL
        mem.write(ptr, os.urandom(size))
        return Errno.SUCCESS

    def environ_sizes_get(ret_count: int, ret_size: int) -> int:
        entries = environment()
        mem.write_u32(ret_count, len(entries))
        mem.write_u32(ret_size, sum(len(entry) for entry in entries))
        return Errno.SUCCESS

    def environ_get(array: int, buffer: int) -> int:
        offset = buffer
        for index, entry in enumerate(environment()):
            mem.write_u32(array + 4 * index, offset)
            mem.write(offset, entry)
            offset += len(entry)
        return Errno.SUCCESS

    def args_sizes_get(ret_count: int, ret_size: int) -> int:
        mem.write_u32(ret_count, 0)
        mem.write_u32(ret_size, 0)
        return Errno.SUCCESS

    def poll_oneoff(subscriptions: int, events: int, count: int, ret: int) -> int:
        """Every subscription is answered at once: a clock wait has elapsed (a proxy
        worker never blocks, and the virtual clock does not move by itself), and any
        descriptor wait is BADF (there are no readable or writable files)."""
        if count == 0:
            return Errno.INVAL
        raw = mem.read(subscriptions, 48 * count)
        out = bytearray()
        for index in range(count):
            userdata, tag = struct.unpack_from("<QB", raw, 48 * index)
            error = Errno.SUCCESS if tag == 0 else Errno.BADF
            out += struct.pack("<QHBxxxxxQHxxxxxx", userdata, error, tag, 0, 0)
        mem.write(events, bytes(out))
        mem.write_u32(ret, count)
        return Errno.SUCCESS

    def proc_exit(code: int) -> None:
        vm.exit_code = code
        raise HostTrap(f"proc_exit({code}): the plugin exited")

    table: dict[str, Callable[..., int | None]] = {
        "fd_write": fd_write,
        "fd_read": _always("fd_read", Errno.NOSYS),
        "fd_close": fd_close,
        "fd_seek": fd_seek,
        "fd_fdstat_get": fd_fdstat_get,
        "fd_prestat_get": _always("fd_prestat_get", Errno.BADF),
        "fd_prestat_dir_name": _always("fd_prestat_dir_name", Errno.NOSYS),
        "path_open": _always("path_open", Errno.NOENT),
        "clock_time_get": clock_time_get,
        "clock_res_get": clock_res_get,
        "random_get": random_get,
        "environ_sizes_get": environ_sizes_get,
        "environ_get": environ_get,
        "args_sizes_get": args_sizes_get,
        "args_get": _always("args_get", Errno.SUCCESS),
        "proc_exit": proc_exit,
        "proc_raise": _always("proc_raise", Errno.NOSYS),
        "sched_yield": _always("sched_yield", Errno.SUCCESS),
        "poll_oneoff": poll_oneoff,
    }
    for name in _STDIO_NOOPS:
        table[name] = _fd_call(name, Errno.SUCCESS)
    for name in _STDIO_UNSUPPORTED:
        table[name] = _fd_call(name, Errno.NOSYS)
    for name in WASI_FUNCS:
        if name not in table:  # the remaining path_* and sock_* calls
            table[name] = _always(name, Errno.NOSYS)
    return table
