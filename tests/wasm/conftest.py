"""Fixtures that build real Wasm modules from the sources in ``fixtures/`` at test time.

``.wat`` files are assembled with Debian wabt's ``wat2wasm``; ``c_filter.c`` is compiled
with ``clang --target=wasm32-wasi``. Results are cached per test session.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.wasm_bytes import leb_u32

FIXTURES = Path(__file__).parent / "fixtures"

BuildWat = Callable[..., bytes]


@pytest.fixture(scope="session")
def build_wat(tmp_path_factory: pytest.TempPathFactory) -> BuildWat:
    wat2wasm = shutil.which("wat2wasm")
    if wat2wasm is None:
        pytest.fail("wat2wasm (Debian package wabt) is required for tests/wasm")
    out_dir = tmp_path_factory.mktemp("wat")
    cache: dict[tuple[str, bool], bytes] = {}

    def build(name: str, *, debug_names: bool = False) -> bytes:
        key = (name, debug_names)
        if key not in cache:
            out = out_dir / f"{name}{'-names' if debug_names else ''}.wasm"
            cmd = [wat2wasm, str(FIXTURES / f"{name}.wat"), "-o", str(out)]
            if debug_names:
                cmd.append("--debug-names")
            subprocess.run(cmd, check=True, capture_output=True)
            cache[key] = out.read_bytes()
        return cache[key]

    return build


@pytest.fixture(scope="session")
def c_filter_wasm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed")
    out = tmp_path_factory.mktemp("c") / "c_filter.wasm"
    subprocess.run(
        [
            clang,
            "--target=wasm32-wasi",
            "-O2",
            "-mexec-model=reactor",
            str(FIXTURES / "c_filter.c"),
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def wasm_name(text: str) -> bytes:
    raw = text.encode()
    return leb_u32(len(raw)) + raw


def custom_section(name: str, payload: bytes) -> bytes:
    body = wasm_name(name) + payload
    return b"\x00" + leb_u32(len(body)) + body


def producers_section(fields: dict[str, list[tuple[str, str]]]) -> bytes:
    payload = leb_u32(len(fields))
    for field_name, values in fields.items():
        payload += wasm_name(field_name) + leb_u32(len(values))
        for name, version in values:
            payload += wasm_name(name) + wasm_name(version)
    return custom_section("producers", payload)
