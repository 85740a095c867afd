"""Truncated and corrupt binaries fail with WasmFormatError at the right byte offset."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.wasm.conftest import BuildWat, custom_section, leb_u32
from wasmhub.errors import InputError
from wasmhub.wasm import WasmFormatError, inspect_module

HEADER = b"\x00asm\x01\x00\x00\x00"


def _error(data: bytes) -> WasmFormatError:
    with pytest.raises(WasmFormatError) as info:
        inspect_module(data)
    assert isinstance(info.value, InputError)
    assert f"at byte offset {info.value.offset}" in info.value.message
    return info.value


def test_empty_and_short_input() -> None:
    assert _error(b"").offset == 0
    assert _error(b"\x00asm\x01").offset == 5


def test_bad_magic() -> None:
    err = _error(b"\x7fELF\x01\x00\x00\x00")
    assert err.offset == 0
    assert "magic" in err.problem


def test_component_binary_is_named() -> None:
    err = _error(b"\x00asm\x0d\x00\x01\x00")
    assert err.offset == 4
    assert "component" in err.problem


def test_header_only_is_an_empty_module() -> None:
    report = inspect_module(HEADER)
    assert not report.is_proxy_wasm
    assert report.counts["functions"] == 0


def test_section_size_past_end() -> None:
    # type section claims 100 bytes but 1 follows
    err = _error(HEADER + b"\x01\x64\x00")
    assert err.offset == 10
    assert "past the end" in err.problem


def test_unknown_section_id() -> None:
    assert _error(HEADER + b"\x0e\x00").offset == 8


def test_sections_out_of_order() -> None:
    # function section (3) with 0 entries, then type section (1)
    err = _error(HEADER + b"\x03\x01\x00\x01\x01\x00")
    assert err.offset == 11
    assert "out of order" in err.problem


def test_overlong_leb128() -> None:
    # section size written in 6 bytes
    err = _error(HEADER + b"\x01\x80\x80\x80\x80\x80\x00")
    assert err.offset == 9
    assert "longer than 5 bytes" in err.problem


def test_leb128_overflowing_32_bits() -> None:
    err = _error(HEADER + b"\x01\xff\xff\xff\xff\x7f")
    assert err.offset == 9
    assert "overflows 32 bits" in err.problem


def test_vector_count_larger_than_data() -> None:
    # type section of 2 bytes announcing 100 types
    err = _error(HEADER + b"\x01\x02\x64\x60")
    assert err.offset == 10
    assert "does not fit" in err.problem


def test_unknown_value_type() -> None:
    # one type: func (param 0x55) -> ()
    err = _error(HEADER + b"\x01\x05\x01\x60\x01\x55\x00")
    assert err.offset == 13
    assert "unknown value type 0x55" in err.problem


def test_import_type_index_out_of_range() -> None:
    body = b"\x01" + leb_u32(3) + b"env" + leb_u32(1) + b"f" + b"\x00\x07"
    err = _error(HEADER + b"\x02" + leb_u32(len(body)) + body)
    assert err.offset == 18
    assert "type index 7 out of range" in err.problem


def test_invalid_utf8_name() -> None:
    body = b"\x01\x02\xff\xfe\x01f\x00\x00"
    err = _error(HEADER + b"\x02" + leb_u32(len(body)) + body)
    assert err.offset == 11
    assert "UTF-8" in err.problem


def test_function_and_code_counts_disagree() -> None:
    types = b"\x01\x04\x01\x60\x00\x00"
    funcs = b"\x03\x02\x01\x00"
    data = HEADER + types + funcs
    err = _error(data)
    assert err.offset == len(data)
    assert "code section has 0 bodies" in err.problem


def test_function_body_without_end() -> None:
    types = b"\x01\x04\x01\x60\x00\x00"
    funcs = b"\x03\x02\x01\x00"
    code = b"\x0a\x04\x01\x02\x00\x01"  # body: 0 locals, then nop (no end)
    data = HEADER + types + funcs + code
    err = _error(data)
    assert "end opcode" in err.problem
    assert err.offset == len(data)


def test_trailing_bytes_in_section() -> None:
    err = _error(HEADER + b"\x01\x02\x00\x00")
    assert err.offset == 11
    assert "trailing bytes" in err.problem


def test_truncations_of_a_real_module_all_fail_cleanly(build_wat: BuildWat) -> None:
    data = build_wat("abi_0_2_1_http")
    for cut in range(len(data)):
        if cut == 8:
            continue  # header alone is a valid empty module
        try:
            inspect_module(data[:cut])
        except WasmFormatError as err:
            assert 0 <= err.offset <= cut


def test_truncated_module_reports_offset_inside_it(build_wat: BuildWat) -> None:
    data = build_wat("abi_0_2_1_http")
    err = _error(data[:-3])
    assert len(data) - 40 < err.offset <= len(data) - 3


def test_duplicate_export_name() -> None:
    types = b"\x01\x04\x01\x60\x00\x00"
    funcs = b"\x03\x02\x01\x00"
    exports = b"\x07\x09\x02\x01a\x00\x00\x01a\x00\x00"
    code = b"\x0a\x04\x01\x02\x00\x0b"
    err = _error(HEADER + types + funcs + exports + code)
    assert "duplicate export name 'a'" in err.problem
    assert err.offset == 8 + 6 + 4 + 2 + 1 + 4


def test_custom_section_with_name_past_end() -> None:
    err = _error(HEADER + b"\x00\x02\x05a")
    assert err.offset == 11


def test_custom_section_is_kept(build_wat: BuildWat) -> None:
    report = inspect_module(build_wat("plain_module") + custom_section("wasmhub", b"xyz"))
    assert report.sections[-1][0] == "wasmhub"


# Bounded sizes keep every example fast; the parser's work is linear in the input.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_format_errors(data: bytes) -> None:
    for candidate in (data, HEADER + data):
        try:
            inspect_module(candidate)
        except WasmFormatError as err:
            assert 0 <= err.offset <= len(candidate)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_modules_only_raise_format_errors(build_wat: BuildWat, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["abi_0_2_1_http", "plain_module", "tinygo_like_wasi"]))
    module = bytearray(build_wat(name, debug_names=True))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(8, len(module) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            module[pos] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del module[pos]
        else:
            module.insert(pos, data.draw(st.integers(0, 255)))
    try:
        report = inspect_module(bytes(module))
    except WasmFormatError as err:
        assert 0 <= err.offset <= len(module)
    else:
        assert report.size == len(module)
        report.to_json()
