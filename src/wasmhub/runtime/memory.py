"""Guest memory access and the ABI's serialization formats.

Owns: bounds-checked reads/writes of the plugin's linear memory, copying host bytes into
guest allocations (``proxy_on_memory_allocate``, or ``malloc`` in its absence), and the
header-map ("pairs") encoding: u32 count, then u32 (key length, value length) per pair,
then each key and value followed by a NUL byte, all little-endian.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Sequence

from wasmhub.runtime.engine import MemoryAccess
from wasmhub.runtime.errors import GuestMemoryError

Pairs = list[tuple[bytes, bytes]]

_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64


class _Unbound:
    base = 0
    size = 0

    def refresh(self) -> int:
        return 0


class GuestMemory:
    """Bound to the instance's memory and allocator once the module is instantiated."""

    def __init__(self) -> None:
        self._access: MemoryAccess | _Unbound = _Unbound()
        self._allocate: Callable[[int], int] = lambda _size: 0

    def bind(self, access: MemoryAccess, allocate: Callable[[int], int]) -> None:
        self._access = access
        self._allocate = allocate

    def check(self, ptr: int, size: int) -> int:
        """The host address of guest ``ptr`` if ``size`` bytes fit; GuestMemoryError if not."""
        access = self._access
        if ptr + size > access.size and ptr + size > access.refresh():
            raise GuestMemoryError(
                f"{ptr}+{size} is beyond the plugin's memory of {access.size} bytes")
        return access.base + ptr

    def read(self, ptr: int, size: int) -> bytes:
        if size == 0:
            return b""
        return ctypes.string_at(self.check(ptr, size), size)

    def write(self, ptr: int, data: bytes) -> None:
        ctypes.memmove(self.check(ptr, len(data)), data, len(data))

    def write_u32(self, ptr: int, value: int) -> None:
        _u32.from_address(self.check(ptr, 4)).value = value

    def write_u64(self, ptr: int, value: int) -> None:
        _u64.from_address(self.check(ptr, 8)).value = value & 0xFFFFFFFFFFFFFFFF

    def give(self, data: bytes, ptr_ptr: int, size_ptr: int) -> None:
        """Copy ``data`` into a fresh guest allocation; store its address and size.

        Empty data is returned as (0, 0) without allocating, like the C++ host.
        """
        self.check(ptr_ptr, 4)
        self.check(size_ptr, 4)
        address = 0
        if data:
            address = self._allocate(len(data))
            if address == 0:
                raise GuestMemoryError("the plugin's allocator returned 0")
            self.write(address, data)
        self.write_u32(ptr_ptr, address)
        self.write_u32(size_ptr, len(data))


def serialize_pairs(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    count = len(pairs)
    sizes: list[int] = [count]
    chunks: list[bytes] = []
    for key, value in pairs:
        sizes.append(len(key))
        sizes.append(len(value))
        chunks.append(key)
        chunks.append(b"\0")
        chunks.append(value)
        chunks.append(b"\0")
    return struct.pack(f"<{len(sizes)}I", *sizes) + b"".join(chunks)


def pairs_size(pairs: Sequence[tuple[bytes, bytes]]) -> int:
    return 4 + sum(8 + len(key) + len(value) + 2 for key, value in pairs)


def parse_pairs(data: bytes) -> Pairs:
    """Decode a serialized map; ValueError when malformed. Size 0 or 1 is an empty map."""
    if len(data) < 4:
        return []
    (count,) = struct.unpack_from("<I", data, 0)
    header_end = 4 + 8 * count
    if header_end > len(data):
        raise ValueError(f"map declares {count} pairs but has {len(data)} bytes")
    sizes = struct.unpack_from(f"<{2 * count}I", data, 4)
    offset = header_end
    pairs: Pairs = []
    for index in range(count):
        key_size, value_size = sizes[2 * index], sizes[2 * index + 1]
        key_end = offset + key_size
        value_end = key_end + 1 + value_size
        if value_end + 1 > len(data) or data[key_end] != 0 or data[value_end] != 0:
            raise ValueError(f"pair {index} overruns the map or lacks its NUL separators")
        pairs.append((data[offset:key_end], data[key_end + 1 : value_end]))
        offset = value_end + 1
    return pairs
