"""``wasmhub build`` with the real toolchains: AssemblyScript (npm + asc), C/C++ (clang),
and the clear error when a toolchain is missing (Rust and TinyGo are not installed here;
the tests also hide them with an empty PATH so the result does not depend on the machine).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.build.helpers import EXAMPLES, run
from wasmhub.wasm import inspect_module

pytestmark = pytest.mark.slow


def _module(path: Path) -> tuple[str | None, set[str]]:
    report = inspect_module(path.read_bytes())
    assert report.is_proxy_wasm
    return report.abi_version, set(report.callbacks)


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm (scripts/bootstrap)")
def test_init_then_build_assemblyscript(tmp_path: Path) -> None:
    project = tmp_path / "as-hello"
    assert run("init", str(project), "-l", "assemblyscript").exit_code == 0
    result = run("build", str(project))
    assert result.exit_code == 0, result.output
    assert "npm install" in result.stderr and "compile with asc" in result.stderr
    module = project / "build" / "plugin.wasm"
    abi, callbacks = _module(module)
    assert abi == "0.2.0"
    assert {"proxy_on_configure", "proxy_on_response_headers"} <= callbacks
    assert "0.2.0" in result.stdout and "built" in result.stdout
    assert (project / "node_modules" / "assemblyscript").is_dir()


def test_init_then_build_cpp(tmp_path: Path) -> None:
    project = tmp_path / "cpp-hello"
    assert run("init", str(project), "-l", "cpp").exit_code == 0
    out = tmp_path / "out" / "hello.wasm"
    result = run("build", str(project), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "clang++ --target=wasm32-wasi" in result.stderr
    abi, callbacks = _module(out)
    assert abi == "0.2.1"
    assert {"proxy_on_configure", "proxy_on_response_headers",
            "proxy_on_memory_allocate"} <= callbacks
    assert not (project / "build").exists()


def test_build_c_example_from_build_yaml(tmp_path: Path) -> None:
    out = tmp_path / "c.wasm"
    result = run("build", str(EXAMPLES / "c-add-header"), "-o", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert _module(out)[0] == "0.2.1"


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("rust", "cargo not found: install Rust from https://rustup.rs and "
                 "`rustup target add wasm32-wasip1`"),
        ("tinygo", "tinygo not found: install TinyGo from https://tinygo.org"),
        ("assemblyscript", "npm not found: install Node.js"),
        ("cpp", "clang++ not found: install clang++ for wasm32-wasi"),
    ],
)
def test_build_without_the_toolchain_names_it(tmp_path: Path, language: str, message: str) -> None:
    project = tmp_path / "proj"
    assert run("init", str(project), "-l", language).exit_code == 0
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run("build", str(project), env={"PATH": str(empty)})
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (project / "build" / "plugin.wasm").exists()


def test_build_reports_a_compiler_failure(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    assert run("init", str(project), "-l", "cpp").exit_code == 0
    (project / "filter.cc").write_text("this is not C++\n")
    result = run("build", str(project))
    assert result.exit_code == 1
    assert "compile with clang++ failed with exit code" in result.stderr
    assert "filter.cc" in result.stderr  # the compiler's own diagnostics were streamed


def test_build_rejects_a_module_that_is_not_proxy_wasm(tmp_path: Path) -> None:
    (tmp_path / "build.yaml").write_text("language: c\nsources: [lib.c]\n")
    (tmp_path / "lib.c").write_text(
        '__attribute__((export_name("add"))) int add(int a, int b) { return a + b; }\n'
    )
    result = run("build", str(tmp_path))
    assert result.exit_code == 1
    assert "not a proxy-wasm plugin" in result.stderr


def test_build_outside_a_project_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    result = run("build", str(tmp_path))
    assert result.exit_code == 2
    assert "no plugin project found" in result.stderr and "wasmhub init" in result.stderr
