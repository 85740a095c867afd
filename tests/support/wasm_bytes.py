"""Byte-level pieces of the Wasm binary format for hand-made test modules."""

from __future__ import annotations


def leb_u32(value: int) -> bytes:
    """Unsigned LEB128, as the Wasm binary format encodes sizes and counts."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
