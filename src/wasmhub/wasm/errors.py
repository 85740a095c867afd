"""Typed errors of the ``wasmhub.wasm`` package; all are ``InputError`` (bad input, HTTP 400)."""

from __future__ import annotations

from wasmhub.errors import InputError


class WasmFormatError(InputError):
    """The bytes are not a well-formed WebAssembly module.

    ``offset`` is the byte offset in the module where the problem was found; the
    message names it too, so a one-line error is enough to find the spot.
    """

    def __init__(self, problem: str, offset: int) -> None:
        super().__init__(f"invalid Wasm module: {problem} at byte offset {offset}")
        self.problem = problem
        self.offset = offset


class LayoutError(InputError):
    """An OCI image is not a Wasm plugin image, or one of its blobs is corrupt."""


class PluginYamlError(InputError):
    """``plugin.yaml`` is malformed; ``path`` names the field (``spec.priority``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem
