"""The minimal WASI a proxy offers to plugins, under both ``wasi_snapshot_preview1`` and
``wasi_unstable``.

``fd_write`` to stdout/stderr goes to the plugin log (INFO/ERROR, one entry per line, as
Envoy does); other descriptors answer BADF. ``environ_*`` expose the VM environment from
the host configuration (never the host's own), ``args_*`` are empty, ``clock_time_get``
reads the virtual clock, ``random_get`` returns OS randomness, ``proc_exit`` traps the
plugin with its exit code, ``sched_yield`` succeeds. ``fd_read``/``fd_close``/
``fd_prestat_*`` answer BADF, ``fd_seek`` on stdio SPIPE, ``poll_oneoff`` NOTSUP.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from wasmhub.runtime.abi import Errno, LogLevel
from wasmhub.runtime.errors import HostTrap

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM

_RANDOM_LIMIT = 1 << 16


def functions(vm: PluginVM) -> dict[str, Callable[..., int | None]]:
    mem = vm.memory
    partial: dict[int, bytes] = {1: b"", 2: b""}

    def environment() -> list[bytes]:
        return [f"{key}={value}".encode() + b"\0" for key, value in vm.config.vm_env.items()]

    def fd_write(fd: int, iovs: int, count: int, ret: int) -> int:
        if fd not in (1, 2):
            return Errno.BADF
        vectors = mem.read(iovs, 8 * count)
        data = b"".join(
            mem.read(*struct.unpack_from("<II", vectors, 8 * index)) for index in range(count)
        )
        mem.write_u32(ret, len(data))
        text = partial[fd] + data
        *lines, rest = text.split(b"\n")
        partial[fd] = rest
        level = LogLevel.INFO if fd == 1 else LogLevel.ERROR
        for line in lines:
            vm.log(level, line.decode("utf-8", "replace"), vm.current.id,
                   "stdout" if fd == 1 else "stderr")
        return Errno.SUCCESS

    def fd_read(_fd: int, _iovs: int, _count: int, _ret: int) -> int:
        return Errno.BADF

    def fd_close(_fd: int) -> int:
        return Errno.BADF

    def fd_seek(fd: int, _offset: int, _whence: int, _ret: int) -> int:
        return Errno.SPIPE if fd in (0, 1, 2) else Errno.BADF

    def fd_fdstat_get(fd: int, ret: int) -> int:
        if fd not in (0, 1, 2):
            return Errno.BADF
        # filetype CHARACTER_DEVICE, no flags, rights: fd_write (bit 6) or fd_read (bit 1)
        rights = 1 << 1 if fd == 0 else 1 << 6
        mem.write(ret, struct.pack("<BxHxxxxQQ", 2, 0, rights, 0))
        return Errno.SUCCESS

    def fd_prestat_get(_fd: int, _ret: int) -> int:
        return Errno.BADF

    def fd_prestat_dir_name(_fd: int, _path: int, _size: int) -> int:
        return Errno.BADF

    def clock_time_get(clock_id: int, _precision: int, ret: int) -> int:
        if clock_id not in (0, 1):
            return Errno.NOTSUP
        mem.write_u64(ret, vm.now_ns)
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

    def args_get(_argv: int, _buffer: int) -> int:
        return Errno.SUCCESS

    def proc_exit(code: int) -> None:
        raise HostTrap(f"proc_exit({code}): the plugin exited")

    def sched_yield() -> int:
        return Errno.SUCCESS

    def poll_oneoff(_in: int, _out: int, _count: int, _ret: int) -> int:
        return Errno.NOTSUP

    return {
        "fd_write": fd_write,
        "fd_read": fd_read,
        "fd_close": fd_close,
        "fd_seek": fd_seek,
        "fd_fdstat_get": fd_fdstat_get,
        "fd_prestat_get": fd_prestat_get,
        "fd_prestat_dir_name": fd_prestat_dir_name,
        "clock_time_get": clock_time_get,
        "clock_res_get": clock_res_get,
        "random_get": random_get,
        "environ_sizes_get": environ_sizes_get,
        "environ_get": environ_get,
        "args_sizes_get": args_sizes_get,
        "args_get": args_get,
        "proc_exit": proc_exit,
        "sched_yield": sched_yield,
        "poll_oneoff": poll_oneoff,
    }
