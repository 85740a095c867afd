"""Wasm binary inspector, proxy-wasm ABI and compatibility data, image layouts, plugin.yaml.

The public API (docs/interfaces.md section 2) is re-exported here; submodules own:
``binary`` (bounded reader), ``sections`` (binary format), ``abi`` and ``language``
(what the module is), ``report`` (``inspect_module``), ``compat`` (where it loads),
``layouts`` (OCI image layouts), ``plugin_yaml`` (hub metadata) and ``registry_hook``.
"""

from __future__ import annotations

from wasmhub.wasm.errors import LayoutError, PluginYamlError, WasmFormatError
from wasmhub.wasm.report import (
    ExportEntry,
    HostFunctionUse,
    ImportEntry,
    MemoryInfo,
    ModuleReport,
    inspect_module,
)

__all__ = [
    "ExportEntry",
    "HostFunctionUse",
    "ImportEntry",
    "LayoutError",
    "MemoryInfo",
    "ModuleReport",
    "PluginYamlError",
    "WasmFormatError",
    "inspect_module",
]
