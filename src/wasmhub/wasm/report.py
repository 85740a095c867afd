"""``inspect_module``: what a Wasm binary is, as a proxy-wasm plugin, without running it.

Owns :class:`ModuleReport` and its stable JSON form (documented field by field in
docs/inspect-json.md). Parsing is in ``sections``; ABI facts in ``abi``; the language
guess in ``language``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from wasmhub.wasm.abi import abi_from_exports, abi_tables, filter_types
from wasmhub.wasm.language import guess_language
from wasmhub.wasm.sections import Limits, ParsedModule, parse_module

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ImportEntry:
    module: str
    name: str
    kind: str  # func, table, memory, global, tag
    signature: str | None = None  # "(i32, i32) -> (i32)" for functions


@dataclass(frozen=True)
class ExportEntry:
    name: str
    kind: str
    index: int
    signature: str | None = None


@dataclass(frozen=True)
class HostFunctionUse:
    """One ``env`` import and whether the module's declared ABI version defines it."""

    name: str
    signature: str | None
    in_abi: bool | None  # None when the module declares no ABI version
    defined_in: tuple[str, ...]  # ABI versions that define it; () if none
    runtime_helper: bool = False  # Emscripten helper cpp-host also provides


@dataclass(frozen=True)
class MemoryInfo:
    min_pages: int
    max_pages: int | None
    imported: bool
    exported_as: str | None
    shared: bool
    is64: bool


@dataclass(frozen=True)
class ModuleReport:
    size: int
    sha256: str
    abi_version: str | None
    abi_marker: str | None
    is_proxy_wasm: bool
    filter_types: frozenset[str]
    callbacks: tuple[str, ...]
    imports: tuple[ImportEntry, ...]
    exports: tuple[ExportEntry, ...]
    host_functions: tuple[HostFunctionUse, ...]
    unknown_imports: tuple[str, ...]  # imports no proxy-wasm host provides
    wasi: str | None
    wasi_functions: tuple[str, ...]  # "module.name"
    language: str | None
    sdk: str | None
    toolchain: str | None
    language_evidence: tuple[str, ...]
    producers: dict[str, tuple[tuple[str, str], ...]]
    module_name: str | None
    entrypoints: tuple[str, ...]  # _initialize, _start, main, when exported
    memory: MemoryInfo | None
    counts: dict[str, int]
    sections: tuple[tuple[str, int, int], ...]  # (name, offset, size)
    warnings: tuple[str, ...] = field(default=())

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"

    def to_json(self) -> dict[str, Any]:
        """Stable, documented JSON form (docs/inspect-json.md); keys never change meaning."""
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "size": self.size,
            "sha256": self.sha256,
            "is_proxy_wasm": self.is_proxy_wasm,
            "abi_version": self.abi_version,
            "abi_marker": self.abi_marker,
            "filter_types": sorted(self.filter_types),
            "callbacks": list(self.callbacks),
            "host_functions": [
                {
                    "name": h.name,
                    "signature": h.signature,
                    "in_abi": h.in_abi,
                    "defined_in": list(h.defined_in),
                    "runtime_helper": h.runtime_helper,
                }
                for h in self.host_functions
            ],
            "unknown_imports": list(self.unknown_imports),
            "wasi": self.wasi,
            "wasi_functions": list(self.wasi_functions),
            "language": self.language,
            "sdk": self.sdk,
            "toolchain": self.toolchain,
            "language_evidence": list(self.language_evidence),
            "producers": {
                k: [{"name": n, "version": v} for n, v in vals]
                for k, vals in sorted(self.producers.items())
            },
            "module_name": self.module_name,
            "entrypoints": list(self.entrypoints),
            "memory": None
            if self.memory is None
            else {
                "min_pages": self.memory.min_pages,
                "max_pages": self.memory.max_pages,
                "imported": self.memory.imported,
                "exported_as": self.memory.exported_as,
                "shared": self.memory.shared,
                "memory64": self.memory.is64,
            },
            "imports": [
                {"module": i.module, "name": i.name, "kind": i.kind, "signature": i.signature}
                for i in self.imports
            ],
            "exports": [
                {"name": e.name, "kind": e.kind, "index": e.index, "signature": e.signature}
                for e in self.exports
            ],
            "counts": dict(sorted(self.counts.items())),
            "sections": [{"name": n, "offset": o, "size": s} for n, o, s in self.sections],
            "warnings": list(self.warnings),
        }


def inspect_module(data: bytes) -> ModuleReport:
    """Parse ``data`` as a core Wasm module and describe it; raises ``WasmFormatError``."""
    data = bytes(data)
    parsed = parse_module(data)
    return _build_report(data, parsed)


def _signature_of_import(parsed: ParsedModule, type_index: int | None) -> str | None:
    if type_index is None or type_index >= len(parsed.types):
        return None
    return parsed.types[type_index].signature()


def _build_report(data: bytes, parsed: ParsedModule) -> ModuleReport:
    tables = abi_tables()
    imports = tuple(
        ImportEntry(
            i.module,
            i.name,
            i.kind,
            _signature_of_import(parsed, i.type_index) if i.kind == "func" else None,
        )
        for i in parsed.imports
    )
    exports = tuple(_export_entry(parsed, e.name, e.kind, e.index) for e in parsed.exports)
    func_exports = [e.name for e in parsed.exports if e.kind == "func"]
    abi_version, marker = abi_from_exports(func_exports)
    exported = set(func_exports)
    callbacks = tuple(sorted(n for n in exported if n.startswith("proxy_on_")))
    is_proxy = marker is not None or bool(exported & tables.all_callbacks)
    host, unknown, wasi, wasi_funcs, warnings = _classify_imports(imports, abi_version)
    guess = guess_language(parsed)
    warnings.extend(parsed.warnings)
    warnings.extend(_proxy_warnings(is_proxy, marker, exported, parsed))
    return ModuleReport(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        abi_version=abi_version,
        abi_marker=marker,
        is_proxy_wasm=is_proxy,
        filter_types=frozenset(filter_types(exported)),
        callbacks=callbacks,
        imports=imports,
        exports=exports,
        host_functions=host,
        unknown_imports=unknown,
        wasi=wasi,
        wasi_functions=wasi_funcs,
        language=guess.language,
        sdk=guess.sdk,
        toolchain=guess.toolchain,
        language_evidence=tuple(guess.evidence),
        producers={k: tuple(v) for k, v in parsed.producers.items()},
        module_name=parsed.module_name,
        entrypoints=tuple(n for n in ("_initialize", "_start", "main") if n in exported),
        memory=_memory_info(parsed),
        counts=_counts(parsed),
        sections=tuple((s.name, s.offset, s.size) for s in parsed.sections),
        warnings=tuple(warnings),
    )


def _export_entry(parsed: ParsedModule, name: str, kind: str, index: int) -> ExportEntry:
    signature = None
    if kind == "func":
        ftype = parsed.func_type(index)
        signature = ftype.signature() if ftype else None
    return ExportEntry(name, kind, index, signature)


def _classify_imports(
    imports: tuple[ImportEntry, ...], abi_version: str | None
) -> tuple[tuple[HostFunctionUse, ...], tuple[str, ...], str | None, tuple[str, ...], list[str]]:
    tables = abi_tables()
    allowed = tables.host_functions(abi_version) if abi_version else frozenset()
    host: list[HostFunctionUse] = []
    unknown: list[str] = []
    wasi_modules: list[str] = []
    wasi_funcs: list[str] = []
    for imp in imports:
        qualified = f"{imp.module}.{imp.name}"
        if imp.module in tables.wasi_modules and imp.kind == "func":
            wasi_funcs.append(qualified)
            if imp.module not in wasi_modules:
                wasi_modules.append(imp.module)
        elif imp.module == "env" and imp.kind == "func":
            defined = tables.versions_defining(imp.name)
            helper = imp.name in tables.runtime_env
            in_abi = None if abi_version is None else (imp.name in allowed or helper)
            host.append(HostFunctionUse(imp.name, imp.signature, in_abi, defined, helper))
            if not defined and not helper:
                unknown.append(qualified)
        elif imp.kind == "func":
            unknown.append(qualified)
    warnings: list[str] = []
    if len(wasi_modules) > 1:
        warnings.append("imports from both wasi_unstable and wasi_snapshot_preview1")
    # Report the newest flavour when a module mixes both.
    wasi = (
        "wasi_snapshot_preview1"
        if "wasi_snapshot_preview1" in wasi_modules
        else wasi_modules[0]
        if wasi_modules
        else None
    )
    return tuple(host), tuple(unknown), wasi, tuple(wasi_funcs), warnings


def _proxy_warnings(
    is_proxy: bool, marker: str | None, exported: set[str], parsed: ParsedModule
) -> list[str]:
    if not is_proxy:
        return []
    warnings = []
    if marker is None:
        warnings.append(
            "exports proxy_on_* callbacks but no proxy_abi_version_* marker; "
            'hosts refuse it ("Missing or unknown Proxy-Wasm ABI version")'
        )
    if not {"proxy_on_memory_allocate", "malloc"} & exported:
        warnings.append(
            "exports neither proxy_on_memory_allocate nor malloc; "
            'hosts refuse it ("Wasm module is missing malloc function")'
        )
    if not any(e.kind == "memory" for e in parsed.exports):
        warnings.append("does not export its memory; the host cannot exchange data with it")
    return warnings


def _memory_info(parsed: ParsedModule) -> MemoryInfo | None:
    exported_as = next(
        (e.name for e in parsed.exports if e.kind == "memory" and e.index == 0), None
    )
    imported = next((i.limits for i in parsed.imports if i.kind == "memory"), None)
    limits: Limits | None = imported or (parsed.memories[0] if parsed.memories else None)
    if limits is None:
        return None
    return MemoryInfo(
        limits.minimum,
        limits.maximum,
        imported is not None,
        exported_as,
        limits.shared,
        limits.is64,
    )


def _counts(parsed: ParsedModule) -> dict[str, int]:
    return {
        "types": len(parsed.types),
        "imports": len(parsed.imports),
        "functions": len(parsed.functions),
        "tables": len(parsed.tables) + parsed.imported_count("table"),
        "memories": len(parsed.memories) + parsed.imported_count("memory"),
        "globals": parsed.globals,
        "tags": parsed.tags,
        "exports": len(parsed.exports),
        "elements": parsed.elements,
        "data_segments": parsed.data_segments,
        "custom_sections": len(parsed.custom_sections),
        "named_functions": len(parsed.function_names),
    }
