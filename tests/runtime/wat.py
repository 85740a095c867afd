"""Builds small proxy-wasm test modules from WAT snippets (assembled with wasmtime).

``module({"proxy_on_request_headers": "..."})`` gives a complete filter: every standard
callback exists (Continue / true) unless replaced; only host functions the snippets name
(``$proxy_log``, ``$fd_write`` ...) are imported. ``(call $rec (i32.const N) EXPR)``
stores EXPR at RESULTS + 4*N so tests can read what a host call returned.
"""

from __future__ import annotations

import re
import struct

import wasmtime

from wasmhub.runtime.abi import ENV_BY_VERSION, ENV_COMMON, WASI_FUNCS, AbiVersion
from wasmhub.runtime.plugin import Plugin

RESULTS = 0x800
HEAP = 0x10000

_DEFAULTS: dict[str, tuple[str, str]] = {
    "proxy_on_context_create": ("(param $ctx i32) (param $parent i32)", ""),
    "proxy_on_vm_start": ("(param $ctx i32) (param $size i32) (result i32)", "(i32.const 1)"),
    "proxy_on_configure": ("(param $ctx i32) (param $size i32) (result i32)", "(i32.const 1)"),
    "proxy_on_request_headers": (
        "(param $ctx i32) (param $n i32) (param $eos i32) (result i32)", "(i32.const 0)"),
    "proxy_on_request_body": (
        "(param $ctx i32) (param $size i32) (param $eos i32) (result i32)", "(i32.const 0)"),
    "proxy_on_request_trailers": ("(param $ctx i32) (param $n i32) (result i32)",
                                  "(i32.const 0)"),
    "proxy_on_response_headers": (
        "(param $ctx i32) (param $n i32) (param $eos i32) (result i32)", "(i32.const 0)"),
    "proxy_on_response_body": (
        "(param $ctx i32) (param $size i32) (param $eos i32) (result i32)", "(i32.const 0)"),
    "proxy_on_response_trailers": ("(param $ctx i32) (param $n i32) (result i32)",
                                   "(i32.const 0)"),
    "proxy_on_done": ("(param $ctx i32) (result i32)", "(i32.const 1)"),
    "proxy_on_log": ("(param $ctx i32)", ""),
    "proxy_on_delete": ("(param $ctx i32)", ""),
    "proxy_on_tick": ("(param $ctx i32)", ""),
    "proxy_on_queue_ready": ("(param $ctx i32) (param $queue i32)", ""),
    "proxy_on_http_call_response": (
        "(param $ctx i32) (param $token i32) (param $headers i32) (param $body i32) "
        "(param $trailers i32)", ""),
    "proxy_on_grpc_receive": ("(param $ctx i32) (param $token i32) (param $size i32)", ""),
    "proxy_on_grpc_close": ("(param $ctx i32) (param $token i32) (param $status i32)", ""),
    "proxy_on_new_connection": ("(param $ctx i32) (result i32)", "(i32.const 0)"),
    "proxy_on_downstream_data": (
        "(param $ctx i32) (param $size i32) (param $eos i32) (result i32)", "(i32.const 0)"),
    "proxy_on_upstream_data": (
        "(param $ctx i32) (param $size i32) (param $eos i32) (result i32)", "(i32.const 0)"),
}


def _import(module: str, name: str, kinds: str, has_result: bool) -> str:
    params = " ".join("i64" if kind == "I" else "i32" for kind in kinds)
    result = " (result i32)" if has_result else ""
    return (f'(import "{module}" "{name}" (func ${name}'
            f'{" (param " + params + ")" if params else ""}{result}))')


def module(
    callbacks: dict[str, str] | None = None, *, abi: str = "0_2_1",
    data: dict[int, bytes] | None = None, extra: str = "", wasi: str = "wasi_snapshot_preview1",
    memory_pages: int = 2, signatures: dict[str, str] | None = None,
    imports: list[str] | None = None, raw_imports: str = "",
) -> bytes:
    callbacks = callbacks or {}
    text = " ".join(callbacks.values()) + extra
    version = AbiVersion(abi.replace("_", "."))
    env = dict(ENV_COMMON)
    for table in ENV_BY_VERSION.values():
        env.update(table)
    lines = ["(module", raw_imports]
    for name in sorted(set(re.findall(r"\$([a-z_0-9]+)", text)) | set(imports or [])):
        if name in env:
            lines.append(_import("env", name, env[name], True))
        elif name in WASI_FUNCS:
            kinds, has_result = WASI_FUNCS[name]
            lines.append(_import(wasi, name, kinds, has_result))
    lines.append(f'(memory (export "memory") {memory_pages})')
    lines.append(f"(global $bump (mut i32) (i32.const {HEAP}))")
    for address, value in (data or {}).items():
        escaped = "".join(f"\\{byte:02x}" for byte in value)
        lines.append(f'(data (i32.const {address}) "{escaped}")')
    lines.append(f'(func (export "proxy_abi_version_{abi}"))')
    lines.append('(func (export "proxy_on_memory_allocate") (param $size i32) (result i32) '
                 "(local $p i32) (local.set $p (global.get $bump)) "
                 "(global.set $bump (i32.add (global.get $bump) (local.get $size))) "
                 "(local.get $p))")
    lines.append(f"(func $rec (param $slot i32) (param $value i32) (i32.store (i32.add "
                 f"(i32.const {RESULTS}) (i32.mul (local.get $slot) (i32.const 4))) "
                 "(local.get $value)))")
    signatures = dict(signatures or {})
    if version is AbiVersion.V0_1_0:
        for name in ("proxy_on_request_headers", "proxy_on_response_headers"):
            signatures.setdefault(name, "(param $ctx i32) (param $n i32) (result i32)")
    for name, (params, default) in _DEFAULTS.items():
        body = callbacks.get(name, default)
        lines.append(f'(func (export "{name}") {signatures.get(name, params)} {body})')
    lines.append(extra)
    lines.append(")")
    return wasmtime.wat2wasm("\n".join(lines))


def results(plugin: Plugin, count: int) -> list[int]:
    raw = plugin.vm.memory.read(RESULTS, 4 * count)
    return list(struct.unpack(f"<{count}i", raw))


def read_returned(plugin: Plugin, ptr_slot: int) -> bytes:
    """Bytes at the (pointer, size) pair the host wrote at results slots ptr_slot, +1."""
    raw = plugin.vm.memory.read(RESULTS + 4 * ptr_slot, 8)
    pointer, size = struct.unpack("<II", raw)
    return plugin.vm.memory.read(pointer, size)


def cstr(address: int, text: str) -> str:
    """WAT arguments (ptr, len) for a string placed at ``address`` via ``data``."""
    return f"(i32.const {address}) (i32.const {len(text.encode())})"
