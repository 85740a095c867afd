"""What a plugin project is: its language, sources and build settings.

A project is recognised by its files, checked in this order:

- ``build.yaml`` with ``language:`` (any language; required for C/C++, which have no
  standard project file). Optional keys: ``sources``, ``flags``, ``entry`` (AssemblyScript),
  ``sysroot`` (C/C++).
- ``Cargo.toml`` → Rust; ``go.mod`` → TinyGo; ``assembly/index.ts`` → AssemblyScript (its
  ``package.json`` may live in the directory or any parent, as in ``examples/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from wasmhub.build.errors import ProjectError

BUILD_FILE = "build.yaml"
DEFAULT_OUTPUT = Path("build") / "plugin.wasm"


class Language(StrEnum):
    ASSEMBLYSCRIPT = "assemblyscript"
    C = "c"
    CPP = "cpp"
    RUST = "rust"
    TINYGO = "tinygo"


# Languages `wasmhub init` can scaffold (C projects are written by hand; see examples/).
INIT_LANGUAGES: tuple[Language, ...] = (
    Language.ASSEMBLYSCRIPT,
    Language.CPP,
    Language.RUST,
    Language.TINYGO,
)

_ALIASES = {"as": Language.ASSEMBLYSCRIPT, "c++": Language.CPP, "go": Language.TINYGO}


def parse_language(value: str) -> Language:
    text = value.strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return Language(text)
    except ValueError:
        choices = ", ".join(lang.value for lang in Language)
        raise ProjectError(f"unknown language {value!r}; choose one of {choices}") from None


@dataclass(frozen=True)
class Project:
    root: Path
    language: Language
    sources: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    entry: str = "assembly/index.ts"
    sysroot: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def find_package_root(self) -> Path | None:
        """The nearest directory at or above ``root`` holding a package.json (AssemblyScript)."""
        for candidate in (self.root, *self.root.parents):
            if (candidate / "package.json").is_file():
                return candidate
        return None


def _string_list(value: object, key: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ProjectError(f"{path}: {key!r} must be a string or a list of strings")


def _read_build_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping")
    return data


def load_project(directory: Path) -> Project:
    """Recognise the project in ``directory``; raises ``ProjectError`` naming what is missing."""
    root = directory.resolve()
    if not root.is_dir():
        raise ProjectError(f"{directory} is not a directory")
    build_file = root / BUILD_FILE
    settings = _read_build_file(build_file) if build_file.is_file() else {}
    language: Language | None = None
    if "language" in settings:
        raw = settings["language"]
        if not isinstance(raw, str):
            raise ProjectError(f"{build_file}: 'language' must be a string")
        language = parse_language(raw)
    elif (root / "Cargo.toml").is_file():
        language = Language.RUST
    elif (root / "go.mod").is_file():
        language = Language.TINYGO
    elif (root / "assembly" / "index.ts").is_file():
        language = Language.ASSEMBLYSCRIPT
    if language is None:
        raise ProjectError(
            f"{directory}: no plugin project found (expected build.yaml with 'language', "
            "Cargo.toml, go.mod or assembly/index.ts); create one with `wasmhub init`"
        )
    sources = _string_list(settings.get("sources"), "sources", build_file)
    if language in (Language.C, Language.CPP):
        if not sources:
            suffixes = (".c",) if language is Language.C else (".cc", ".cpp", ".cxx")
            sources = tuple(sorted(p.name for p in root.iterdir() if p.suffix in suffixes))
        if not sources:
            raise ProjectError(f"{build_file}: no 'sources' listed and none found in {root}")
        for source in sources:
            if not (root / source).is_file():
                raise ProjectError(f"{build_file}: source {source!r} does not exist")
    entry = settings.get("entry", "assembly/index.ts")
    if not isinstance(entry, str):
        raise ProjectError(f"{build_file}: 'entry' must be a string")
    if language is Language.ASSEMBLYSCRIPT and not (root / entry).is_file():
        raise ProjectError(f"{directory}: AssemblyScript entry {entry} does not exist")
    sysroot = settings.get("sysroot")
    if sysroot is not None and not isinstance(sysroot, str):
        raise ProjectError(f"{build_file}: 'sysroot' must be a string")
    return Project(
        root=root,
        language=language,
        sources=sources,
        flags=_string_list(settings.get("flags"), "flags", build_file),
        entry=entry,
        sysroot=sysroot,
        settings=settings,
    )
