"""Best-effort guess of the source language, SDK and toolchain of a module.

Evidence, strongest first: the ``producers`` custom section (tool conventions), then
function names from the ``name`` section, then import/export shapes typical of each
SDK (e.g. AssemblyScript's ``env.abort``, Emscripten's ``emscripten_*`` imports).
Every conclusion records the evidence that led to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wasmhub.wasm.sections import ParsedModule


@dataclass
class LanguageGuess:
    language: str | None = None  # rust, go, cpp, c, assemblyscript, zig, other
    sdk: str | None = None
    toolchain: str | None = None
    evidence: list[str] = field(default_factory=list)


_PRODUCER_LANGUAGES = {
    "rust": "rust",
    "c++": "cpp",
    "c_plus_plus": "cpp",
    "c_plus_plus_14": "cpp",
    "c_plus_plus_11": "cpp",
    "c_plus_plus_17": "cpp",
    "c11": "c",
    "c99": "c",
    "c": "c",
    "go": "go",
    "assemblyscript": "assemblyscript",
    "zig": "zig",
}
_TOOLCHAINS = ("rustc", "clang", "emscripten", "tinygo", "asc", "go", "zig", "wasm-opt")
# Substrings of function names that identify an SDK (from the SDKs' package paths).
_NAME_HINTS = (
    ("proxy_wasm::", "rust", "proxy-wasm-rust-sdk"),
    ("proxy-wasm-go-sdk", "go", "proxy-wasm-go-sdk"),
    ("higress-group/wasm-go", "go", "higress wasm-go"),
    ("proxy-runtime", "assemblyscript", "solo-io/proxy-runtime"),
    ("~lib/", "assemblyscript", None),
    ("RootContext", "cpp", "proxy-wasm-cpp-sdk"),
    ("runtime.", "go", None),
    ("core::", "rust", None),
)


def guess_language(module: ParsedModule) -> LanguageGuess:
    guess = LanguageGuess()
    _from_producers(module, guess)
    _from_names(module, guess)
    _from_shapes(module, guess)
    return guess


def _from_producers(module: ParsedModule, guess: LanguageGuess) -> None:
    for name, version in module.producers.get("language", []):
        lang = _PRODUCER_LANGUAGES.get(name.lower())
        if lang and guess.language is None:
            guess.language = lang
            guess.evidence.append(f"producers language {name} {version}".strip())
    for name, version in module.producers.get("processed-by", []):
        tool = name.lower()
        for known in _TOOLCHAINS:
            if re.search(rf"\b{re.escape(known)}\b", tool) and guess.toolchain is None:
                guess.toolchain = known
                guess.evidence.append(f"producers processed-by {name} {version}".strip())
    for name, version in module.producers.get("sdk", []):
        if guess.sdk is None:
            guess.sdk = name
            guess.evidence.append(f"producers sdk {name} {version}".strip())
    if guess.language is None and guess.toolchain == "rustc":
        guess.language = "rust"
    if guess.toolchain == "tinygo":
        guess.language = "go"


def _from_names(module: ParsedModule, guess: LanguageGuess) -> None:
    names = list(module.function_names.values())
    if not names:
        return
    for needle, language, sdk in _NAME_HINTS:
        hit = next((n for n in names if needle in n), None)
        if hit is None:
            continue
        if guess.language is None:
            guess.language = language
        if sdk is not None and guess.sdk is None and guess.language == language:
            guess.sdk = sdk
        guess.evidence.append(f"function name {hit!r}")
    if (
        guess.language == "go"
        and guess.toolchain is None
        and any("tinygo" in n or n.startswith("runtime.alloc") for n in names)
    ):
        guess.toolchain = "tinygo"
        guess.evidence.append("TinyGo runtime function names")


def _from_shapes(module: ParsedModule, guess: LanguageGuess) -> None:
    env = {imp.name for imp in module.imports if imp.module == "env"}
    exports = {exp.name for exp in module.exports}
    if any(n.startswith("emscripten_") for n in env):
        if guess.toolchain is None:
            guess.toolchain = "emscripten"
        guess.evidence.append("imports env.emscripten_*")
    # `__rtti_base` and the 0.17 reference-counting pair are AssemblyScript's own
    # runtime exports; `env.abort` is not required, because the usual proxy-wasm build
    # (`--use abort=abort_proc_exit`) maps abort to WASI's proc_exit instead.
    as_runtime = "__rtti_base" in exports or {"__retain", "__release"} <= exports
    if as_runtime or ("abort" in env and {"__new", "__alloc", "__pin", "__retain"} & exports):
        if guess.language is None:
            guess.language = "assemblyscript"
        if guess.toolchain is None:
            guess.toolchain = "asc"
        guess.evidence.append(
            "exports the AssemblyScript runtime (__rtti_base / __retain+__release)"
            if as_runtime else "imports env.abort and exports the AssemblyScript runtime"
        )
    if (
        guess.language == "assemblyscript"
        and guess.sdk is None
        and ("proxy_on_context_create" in exports)
    ):
        guess.sdk = "solo-io/proxy-runtime"
    if {"asyncify_start_unwind", "resume"} <= exports and guess.language is None:
        guess.language = "go"
        guess.toolchain = guess.toolchain or "tinygo"
        guess.evidence.append("exports asyncify entry points typical of TinyGo")
    if guess.language == "rust" and guess.sdk is None and "proxy_on_context_create" in exports:
        guess.sdk = "proxy-wasm-rust-sdk"
    if guess.language == "go" and guess.sdk is None and "proxy_on_context_create" in exports:
        guess.sdk = "proxy-wasm-go-sdk"
    if guess.language == "cpp" and guess.sdk is None and "proxy_on_context_create" in exports:
        guess.sdk = "proxy-wasm-cpp-sdk"
