"""``wasmhub init``: each language's files, rendered metadata, and refusing non-empty dirs."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.build.helpers import run
from wasmhub.build import Language, load_project
from wasmhub.wasm.plugin_yaml import load_plugin_yaml

COMMON = {".gitignore", "plugin.yaml", "tests.yaml", "README.md"}
EXPECTED = {
    "assemblyscript": COMMON | {"package.json", "assembly/index.ts", "assembly/json.ts"},
    "cpp": COMMON | {"build.yaml", "filter.cc", "proxy_wasm_abi.h"},
    "rust": COMMON | {"Cargo.toml", "src/lib.rs"},
    "tinygo": COMMON | {"go.mod", "main.go"},
}
DETECTED = {
    "assemblyscript": Language.ASSEMBLYSCRIPT,
    "cpp": Language.CPP,
    "rust": Language.RUST,
    "tinygo": Language.TINYGO,
}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_init_writes_the_language_project(tmp_path: Path, language: str) -> None:
    target = tmp_path / "My Plugin"
    result = run("init", str(target), "--language", language)
    assert result.exit_code == 0, result.output
    assert _files(target) == EXPECTED[language]
    assert "my-plugin" in result.stdout

    meta = load_plugin_yaml((target / "plugin.yaml").read_bytes())
    assert meta.name == "my-plugin"
    assert meta.spec.root_id == "my_plugin"
    assert meta.spec.filter_type.value == "http"
    assert language in meta.metadata.keywords
    assert meta.spec.config_schema is not None

    tests = yaml.safe_load((target / "tests.yaml").read_text())
    assert tests["module"] == "build/plugin.wasm"
    assert tests["root_id"] == "my_plugin"
    jsonschema.validate(tests["plugin_config"], meta.spec.config_schema)
    assert tests["cases"][0]["expect"]["headers"] == {"x-hello": "world"}

    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{name}}" not in text and "{{root_id}}" not in text, path
    assert load_project(target).language is DETECTED[language]


def test_init_pins_the_assemblyscript_toolchain(tmp_path: Path) -> None:
    import json

    assert run("init", str(tmp_path / "proj"), "-l", "assemblyscript").exit_code == 0
    package = json.loads((tmp_path / "proj" / "package.json").read_text())
    assert package["devDependencies"] == {"assemblyscript": "0.17.14"}
    assert package["dependencies"] == {"@solo-io/proxy-runtime": "0.1.8"}


def test_init_uses_the_sdks_named_for_rust_and_tinygo(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "r"), "-l", "rust", "--name", "hdr").exit_code == 0
    cargo = (tmp_path / "r" / "Cargo.toml").read_text()
    assert 'name = "hdr"' in cargo and "proxy-wasm" in cargo and '"cdylib"' in cargo
    assert "proxy_wasm::main!" in (tmp_path / "r" / "src" / "lib.rs").read_text()

    assert run("init", str(tmp_path / "g"), "-l", "tinygo", "--name", "hdr").exit_code == 0
    assert "github.com/tetratelabs/proxy-wasm-go-sdk" in (tmp_path / "g" / "go.mod").read_text()
    assert "proxywasm.SetVMContext" in (tmp_path / "g" / "main.go").read_text()


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = run("init", str(tmp_path), "--language", "cpp", "--name", "xy")
    assert result.exit_code == 1
    assert "not empty" in result.stderr and "--force" in result.stderr
    assert _files(tmp_path) == {"notes.txt"}


def test_init_force_writes_into_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "plugin.yaml").write_text("old")
    result = run("init", str(tmp_path), "-l", "cpp", "--name", "xy", "--force")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert load_plugin_yaml((tmp_path / "plugin.yaml").read_bytes()).name == "xy"


def test_init_rejects_bad_language_and_name(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "a"), "--language", "cobol")
    assert result.exit_code == 2
    assert "unknown language 'cobol'" in result.stderr
    result = run("init", str(tmp_path / "b"), "--name", "123")
    assert result.exit_code == 2
    assert "invalid plugin name" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
