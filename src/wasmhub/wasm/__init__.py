"""Wasm binary inspector, proxy-wasm ABI and compatibility data, image layouts, plugin.yaml.

The public API (docs/interfaces.md section 2) is re-exported here; submodules own:
``binary`` (bounded reader), ``sections`` (binary format), ``abi`` and ``language``
(what the module is), ``report`` (``inspect_module``), ``compat`` (where it loads),
``layouts`` (OCI image layouts), ``plugin_yaml`` (hub metadata) and ``registry_hook``.
"""

from __future__ import annotations

from wasmhub.oci.media_types import MediaType
from wasmhub.wasm.compat import CompatibilityVerdict, compatibility
from wasmhub.wasm.errors import LayoutError, PluginYamlError, WasmFormatError
from wasmhub.wasm.layouts import (
    Blob,
    ImageLayout,
    PackedImage,
    PluginFiles,
    UnpackedPlugin,
    detect_layout,
    pack,
    unpack,
)
from wasmhub.wasm.media_types import Annotation
from wasmhub.wasm.plugin_yaml import (
    Category,
    FilterType,
    Phase,
    PluginMetadata,
    Target,
    load_plugin_yaml,
)
from wasmhub.wasm.report import (
    ExportEntry,
    HostFunctionUse,
    ImportEntry,
    MemoryInfo,
    ModuleReport,
    inspect_module,
)

__all__ = [
    "Annotation",
    "Blob",
    "Category",
    "CompatibilityVerdict",
    "ExportEntry",
    "FilterType",
    "HostFunctionUse",
    "ImageLayout",
    "ImportEntry",
    "LayoutError",
    "MediaType",
    "MemoryInfo",
    "ModuleReport",
    "PackedImage",
    "Phase",
    "PluginFiles",
    "PluginMetadata",
    "PluginYamlError",
    "Target",
    "UnpackedPlugin",
    "WasmFormatError",
    "compatibility",
    "detect_layout",
    "inspect_module",
    "load_plugin_yaml",
    "pack",
    "unpack",
]
