"""Real Wasm modules for catalog tests, assembled from WAT with wasmtime."""

from __future__ import annotations

import wasmtime

PROXY_WAT = """
(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
"""

PLAIN_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
)
"""


def proxy_module() -> bytes:
    """A proxy-wasm HTTP filter (ABI 0.2.1) that imports only proxy_log."""
    return bytes(wasmtime.wat2wasm(PROXY_WAT))


def plain_module() -> bytes:
    """A valid Wasm module with no proxy-wasm ABI marker."""
    return bytes(wasmtime.wat2wasm(PLAIN_WAT))
