"""What ``wasmhub run`` checks before the plugin sees anything: its module and its config.

- The module argument may be a ``.wasm`` file, a plugin project directory (its built
  module, as ``push`` finds it) or an image reference.
- ``--config`` is JSON text or ``@file``; it must parse as JSON (``--raw-config`` passes
  bytes through for plugins that take another format), so a typo is reported with its
  line and column instead of as the plugin's refusal.
- When the plugin's ``configSchema`` is known (``--plugin-yaml``, else the
  ``plugin.yaml`` of the project the module belongs to), the config is validated against
  it with the same validator the hub's config form uses, and each violation is named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmhub.cli.console import fail
from wasmhub.errors import WasmhubError


@dataclass(frozen=True)
class ModuleSource:
    """A module argument resolved: the module to load and where its plugin.yaml may be."""

    module: str
    project: Path | None


def module_source(argument: str) -> ModuleSource:
    path = Path(argument).expanduser()
    if path.is_dir():
        from wasmhub.client.project import collect_project

        try:
            project = collect_project(path)
        except WasmhubError as exc:
            fail(exc.message, code=2)
        return ModuleSource(str(project.module_path), path)
    if path.is_file():
        # build/plugin.wasm of a project, or a module next to its plugin.yaml
        for candidate in (path.parent, path.parent.parent):
            if (candidate / "plugin.yaml").is_file():
                return ModuleSource(argument, candidate)
        return ModuleSource(argument, None)
    if argument.lower().endswith(".wasm") or argument.startswith(("/", "./", "../", "~")):
        fail(f"{argument}: no such file", code=2)
    return ModuleSource(argument, None)


def config_bytes(value: str | None) -> bytes:
    if value is None:
        return b""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            fail(f"cannot read plugin config {path}: {exc.strerror}", code=2)
    return value.encode()


def parse_json_config(data: bytes, where: str) -> Any:
    """The config as JSON, or exit 2 naming line and column of the first error."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        fail(f"{where} is not UTF-8 text; use --raw-config for binary configuration", code=2)
    except json.JSONDecodeError as exc:
        fail(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
             " (use --raw-config if the plugin takes another format)", code=2)


def known_schema(plugin_yaml: Path | None, source: ModuleSource) -> tuple[Any, Path] | None:
    """(configSchema, plugin.yaml path) when one is known for the module."""
    from wasmhub.wasm.errors import PluginYamlError
    from wasmhub.wasm.plugin_yaml import load_plugin_yaml

    path = plugin_yaml or (source.project / "plugin.yaml" if source.project else None)
    if path is None:
        return None
    try:
        spec = load_plugin_yaml(path.read_bytes()).spec
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=2)
    except PluginYamlError as exc:
        if plugin_yaml is None:  # a broken plugin.yaml next to the module: run unchecked
            return None
        fail(f"{path}: {exc.message}", code=2)
    if spec.config_schema is None:
        return None
    return spec.config_schema, path


def check_config(config: Any, schema: Any, schema_path: Path, where: str) -> None:
    """Exit 2 listing every way ``config`` breaks the plugin's configSchema."""
    from wasmhub.config_schema import SchemaEvaluator
    from wasmhub.settings import Settings
    from wasmhub.web.schema_form import PREFIX, validate_config

    timeout = Settings.model_fields["config_schema_timeout_seconds"].default

    # A pulled plugin's schema is someone else's code: bounded, in a worker process.
    evaluator = SchemaEvaluator(float(timeout), workers=1)
    try:
        problems = validate_config(evaluator, schema, config)
    finally:
        evaluator.close()
    if not problems:
        return
    lines = []
    for problem in problems:
        field = problem.name.removeprefix(PREFIX).lstrip("/") or "(the whole config)"
        lines.append(f"{field}: {problem.message}")
    fail(f"{where} does not match the configSchema in {schema_path}: " + "; ".join(lines),
         code=2)
