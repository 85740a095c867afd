"""A bounded cursor over Wasm bytes: fixed-width reads and LEB128 integers.

Every read checks the end of the current range, and every LEB128 read is limited to
the number of bytes its width allows (5 for 32-bit, 10 for 64-bit) with the unused
high bits of the last byte checked, so corrupt input fails fast with the offset.
"""

from __future__ import annotations

from wasmhub.wasm.errors import WasmFormatError


class Reader:
    """Reads ``data[pos:end]``; offsets in errors are absolute in ``data``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def fail(self, problem: str, offset: int | None = None) -> WasmFormatError:
        return WasmFormatError(problem, self.pos if offset is None else offset)

    def u8(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end of data")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise self.fail(f"unexpected end of data (needed {n} bytes, {self.remaining} left)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def skip(self, n: int) -> None:
        self.take(n)

    def _leb(self, bits: int, signed: bool) -> int:
        start = self.pos
        max_bytes = (bits + 6) // 7
        result = 0
        shift = 0
        for index in range(max_bytes):
            if self.pos >= self.end:
                raise self.fail("unexpected end of data inside a LEB128 integer", start)
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if index == max_bytes - 1:
                    self._check_last_byte(byte, bits, signed, start)
                if signed and byte & 0x40:
                    result -= 1 << shift
                return result
        raise self.fail(f"LEB128 integer longer than {max_bytes} bytes", start)

    def _check_last_byte(self, byte: int, bits: int, signed: bool, start: int) -> None:
        used = bits - 7 * ((bits + 6) // 7 - 1)  # value bits that fit in the last byte
        if signed:
            # The unused bits must all equal the sign bit.
            rest = (byte & 0x7F) >> (used - 1)
            if rest not in (0, (0x7F >> (used - 1))):
                raise self.fail(f"signed LEB128 integer overflows {bits} bits", start)
        elif (byte & 0x7F) >> used:
            raise self.fail(f"LEB128 integer overflows {bits} bits", start)

    def u32(self) -> int:
        return self._leb(32, signed=False)

    def u64(self) -> int:
        return self._leb(64, signed=False)

    def s32(self) -> int:
        return self._leb(32, signed=True)

    def s33(self) -> int:
        return self._leb(33, signed=True)

    def s64(self) -> int:
        return self._leb(64, signed=True)

    def count(self, min_item_size: int = 1) -> int:
        """A vector length, refused when the items could not fit in what is left."""
        start = self.pos
        n = self.u32()
        if n * min_item_size > self.remaining:
            raise self.fail(f"vector of {n} items does not fit in {self.remaining} bytes", start)
        return n

    def name(self) -> str:
        start = self.pos
        size = self.u32()
        raw = self.take(size)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail("name is not valid UTF-8", start) from exc

    def sub(self, size: int) -> Reader:
        """A reader over the next ``size`` bytes; this reader moves past them."""
        if size < 0 or size > self.remaining:
            raise self.fail(f"size {size} runs past the end ({self.remaining} bytes left)")
        child = Reader(self.data, self.pos, self.pos + size)
        self.pos += size
        return child
