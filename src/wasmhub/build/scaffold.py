"""``wasmhub init``: writes a new plugin project from the templates in ``templates/``.

Templates are package data: ``templates/common`` (plugin.yaml, tests.yaml, .gitignore) plus
``templates/<language>``. A file ``x.tmpl`` becomes ``x``; ``dot-x.tmpl`` becomes ``.x``.
Tokens ``{{name}}``, ``{{root_id}}``, ``{{language}}`` and ``{{language_title}}`` are replaced
literally (no template engine, so the braces of C, Rust and Go code are left alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from wasmhub.build.errors import DirectoryNotEmptyError, ProjectError
from wasmhub.build.project import INIT_LANGUAGES, Language

_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
TITLES = {
    Language.ASSEMBLYSCRIPT: "AssemblyScript",
    Language.CPP: "C++",
    Language.RUST: "Rust",
    Language.TINYGO: "TinyGo",
    Language.C: "C",
}


@dataclass(frozen=True)
class InitResult:
    directory: Path
    name: str
    language: Language
    files: tuple[Path, ...]


def normalize_name(raw: str) -> str:
    """Lower-case; runs of other characters become '-'; 2-63 chars starting with a letter."""
    name = re.sub(r"[^a-z0-9-]+", "-", raw.strip().lower()).strip("-")
    if not _NAME.match(name):
        raise ProjectError(
            f"invalid plugin name {raw!r}: use 2-63 lower-case letters, digits and '-', "
            "starting with a letter (pass --name)"
        )
    return name


def _walk(node: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            found += _walk(child, (*prefix, child.name))
        elif child.name.endswith(".tmpl"):
            found.append(((*prefix, child.name), child.read_text(encoding="utf-8")))
    return found


def _target_name(part: str) -> str:
    name = part.removesuffix(".tmpl")
    return "." + name.removeprefix("dot-") if name.startswith("dot-") else name


def render(text: str, tokens: dict[str, str]) -> str:
    for key, value in tokens.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def template_files(language: Language) -> list[tuple[Path, str]]:
    """(relative path, raw text) of every template file for ``language``."""
    base = resources.files("wasmhub.build").joinpath("templates")
    files: dict[Path, str] = {}
    for folder in ("common", language.value):
        for parts, text in _walk(base.joinpath(folder)):
            files[Path(*(_target_name(p) for p in parts))] = text
    return sorted(files.items())


def init_project(
    directory: Path, language: Language, *, name: str | None = None, force: bool = False
) -> InitResult:
    """Create a buildable project in ``directory``; refuses a non-empty one unless ``force``."""
    if language not in INIT_LANGUAGES:
        choices = ", ".join(lang.value for lang in INIT_LANGUAGES)
        raise ProjectError(f"init supports {choices}, not {language.value}")
    if directory.exists() and not directory.is_dir():
        raise ProjectError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise DirectoryNotEmptyError(
            f"{directory} is not empty; choose an empty directory or pass --force to overwrite"
        )
    plugin_name = normalize_name(name if name is not None else directory.resolve().name)
    tokens = {
        "name": plugin_name,
        "root_id": plugin_name.replace("-", "_"),
        "language": language.value,
        "language_title": TITLES[language],
    }
    written: list[Path] = []
    for relative, text in template_files(language):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(text, tokens), encoding="utf-8")
        written.append(target)
    return InitResult(directory, plugin_name, language, tuple(written))
