"""Proxy-Wasm ABI knowledge: markers, host functions per ABI version, callbacks.

The facts live in ``data/abi.yaml`` (with their sources); this module loads them once
and answers questions about them. It knows nothing about binary parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

ABI_VERSIONS = ("0.1.0", "0.2.0", "0.2.1", "0.3.0")


@dataclass(frozen=True)
class AbiTables:
    markers: dict[str, str]
    common: frozenset[str]
    specific: dict[str, frozenset[str]]
    runtime_env: frozenset[str]
    http_callbacks: frozenset[str]
    network_callbacks: frozenset[str]
    lifecycle_callbacks: frozenset[str]
    spec_wasi_functions: frozenset[str]
    wasi_modules: tuple[str, ...]

    def host_functions(self, abi_version: str) -> frozenset[str]:
        """``env`` functions a module declaring ``abi_version`` may import."""
        return self.common | self.specific.get(abi_version, frozenset())

    def versions_defining(self, name: str) -> tuple[str, ...]:
        return tuple(v for v in ABI_VERSIONS if name in self.host_functions(v))

    @property
    def all_callbacks(self) -> frozenset[str]:
        return self.http_callbacks | self.network_callbacks | self.lifecycle_callbacks


def load_data_file(name: str) -> Any:
    text = resources.files("wasmhub.wasm").joinpath("data", name).read_text("utf-8")
    return yaml.safe_load(text)


@cache
def abi_tables() -> AbiTables:
    raw = load_data_file("abi.yaml")
    callbacks = raw["callbacks"]
    return AbiTables(
        markers=dict(raw["markers"]),
        common=frozenset(raw["common_host_functions"]),
        specific={k: frozenset(v) for k, v in raw["abi_specific_host_functions"].items()},
        runtime_env=frozenset(raw["runtime_env_functions"]),
        http_callbacks=frozenset(callbacks["http"]),
        network_callbacks=frozenset(callbacks["network"]),
        lifecycle_callbacks=frozenset(callbacks["lifecycle"]),
        spec_wasi_functions=frozenset(raw["spec_wasi_functions"]),
        wasi_modules=tuple(raw["wasi_modules"]),
    )


def abi_from_exports(function_exports: list[str]) -> tuple[str | None, str | None]:
    """(abi_version, marker): the first marker among function exports, as hosts do."""
    markers = abi_tables().markers
    for name in function_exports:
        if name in markers:
            return markers[name], name
    return None, None


def filter_types(function_exports: set[str]) -> set[str]:
    tables = abi_tables()
    kinds: set[str] = set()
    if function_exports & tables.http_callbacks:
        kinds.add("http")
    if function_exports & tables.network_callbacks:
        kinds.add("network")
    return kinds
