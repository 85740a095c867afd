"""Turning a module argument into wasm bytes: a local ``.wasm`` file, or a registry
reference (``host/repo:tag``) pulled with ``wasmhub.client`` and unpacked with
``wasmhub.wasm.unpack``.

``resolve_module(ref)`` is the one entry point; the CLI can replace the registry step with
``set_registry_resolver`` (e.g. to use its configured credentials).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from wasmhub.runtime.errors import ModuleResolveError

RegistryResolver = Callable[[str], bytes]
_resolvers: dict[str, RegistryResolver] = {}
WASM_MAGIC = b"\0asm"


def set_registry_resolver(resolver: RegistryResolver | None) -> None:
    if resolver is None:
        _resolvers.pop("registry", None)
    else:
        _resolvers["registry"] = resolver


def _default_registry_resolver() -> RegistryResolver:
    try:
        wasm = importlib.import_module("wasmhub.wasm")
        client = importlib.import_module("wasmhub.client")
    except ImportError as exc:
        raise ModuleResolveError(
            f"registry references need wasmhub.client and wasmhub.wasm ({exc}); "
            "pass a local .wasm file instead") from exc
    unpack = getattr(wasm, "unpack", None)
    if unpack is None:
        raise ModuleResolveError(
            "registry references need the Wasm image unpacker (wasmhub.wasm.unpack), which "
            "this build does not have yet; pull the image and pass the local .wasm file")

    def resolve(ref: str) -> bytes:
        reference = client.Reference.parse(ref)
        with client.RegistryClient(reference.registry) as registry:
            manifest = registry.get_manifest(reference.repository, reference.reference)
            plugin = unpack(manifest.payload,
                            lambda digest: registry.fetch_blob(reference.repository, digest))
        module: bytes = plugin.module
        return module

    return resolve


def resolve_module(ref: str | Path) -> bytes:
    """Bytes of a module named by a path or a registry reference."""
    path = Path(ref)
    if path.exists() or str(ref).endswith(".wasm") or isinstance(ref, Path):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModuleResolveError(f"cannot read module {path}: {exc.strerror}") from exc
        if not data.startswith(WASM_MAGIC):
            raise ModuleResolveError(f"{path} is not a wasm binary (no \\0asm header)")
        return data
    if "/" not in str(ref):
        raise ModuleResolveError(
            f"module {ref!r} is neither an existing file nor a registry reference "
            "(host/repository:tag)")
    resolver = _resolvers.get("registry") or _default_registry_resolver()
    return resolver(str(ref))
