"""What ``wasmhub push <project-dir>`` uploads: the built module and the hub metadata files.

``collect_project(dir)`` finds ``plugin.yaml``, ``README.md``, ``README.zh.md``, an icon
(the ``metadata.icon`` path in plugin.yaml, else ``icon.png``/``.svg``/``.jpg``/``.webp``)
and the module: ``build/plugin.wasm`` (what ``wasmhub build`` writes), else the only
``*.wasm`` file under ``build/``. It only reads files; validating plugin.yaml and packing
are ``wasmhub.wasm``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wasmhub.errors import InputError

ICON_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
ICON_EXTENSIONS = {v: k for k, v in reversed(ICON_TYPES.items())}
README_FILES = {"en": "README.md", "zh": "README.zh.md"}


@dataclass(frozen=True)
class ProjectFiles:
    directory: Path
    module_path: Path
    module: bytes
    plugin_yaml: bytes | None = None
    readme: dict[str, bytes] = field(default_factory=dict)
    icon_path: Path | None = None
    icon: bytes | None = None
    icon_media_type: str | None = None


def _yaml_path(meta: dict[str, Any], *keys: str) -> str | None:
    value: Any = meta
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _inside(directory: Path, relative: str, what: str) -> Path:
    path = (directory / relative).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise InputError(f"{what} {relative!r} in plugin.yaml points outside {directory}")
    return path


def _find_module(directory: Path) -> Path:
    default = directory / "build" / "plugin.wasm"
    if default.is_file():
        return default
    built = sorted((directory / "build").glob("*.wasm")) if (directory / "build").is_dir() else []
    if len(built) == 1:
        return built[0]
    if len(built) > 1:
        names = ", ".join(p.name for p in built)
        raise InputError(f"{directory}/build holds several modules ({names});"
                         " name the one to push as build/plugin.wasm")
    raise InputError(
        f"no built module in {directory}: expected build/plugin.wasm (run `wasmhub build`)")


def collect_project(directory: Path) -> ProjectFiles:
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory")
    plugin_yaml_path = directory / "plugin.yaml"
    plugin_yaml = plugin_yaml_path.read_bytes() if plugin_yaml_path.is_file() else None
    meta: dict[str, Any] = {}
    if plugin_yaml is not None:
        try:
            loaded = yaml.safe_load(plugin_yaml)
        except yaml.YAMLError as exc:
            raise InputError(f"{plugin_yaml_path} is not valid YAML: {exc}") from exc
        meta = loaded if isinstance(loaded, dict) else {}
    module_path = _find_module(directory)
    readme = {lang: (directory / name).read_bytes()
              for lang, name in README_FILES.items() if (directory / name).is_file()}
    icon_path: Path | None = None
    declared_icon = _yaml_path(meta, "metadata", "icon")
    if declared_icon and not declared_icon.startswith(("http://", "https://")):
        icon_path = _inside(directory, declared_icon, "icon")
        if not icon_path.is_file():
            raise InputError(f"plugin.yaml names icon {declared_icon!r} but it does not exist")
    else:
        for ext in ICON_TYPES:
            if (directory / f"icon{ext}").is_file():
                icon_path = directory / f"icon{ext}"
                break
    icon_type = ICON_TYPES.get(icon_path.suffix.lower()) if icon_path else None
    if icon_path is not None and icon_type is None:
        raise InputError(f"icon {icon_path.name}: use a .png, .svg, .jpg or .webp file")
    return ProjectFiles(
        directory=directory,
        module_path=module_path,
        module=module_path.read_bytes(),
        plugin_yaml=plugin_yaml,
        readme=readme,
        icon_path=icon_path,
        icon=icon_path.read_bytes() if icon_path else None,
        icon_media_type=icon_type,
    )
