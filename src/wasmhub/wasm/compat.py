"""Where a module will load: platform compatibility from ``data/platforms.yaml``.

Owns :class:`CompatibilityVerdict` and :func:`compatibility`. A verdict is
``compatible``, ``incompatible`` (with the reasons a host would give: unknown ABI,
missing host function, missing WASI function, unsupported filter type) or
``unverified`` (our data cannot decide, e.g. a legacy pre-marker ABI).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from wasmhub.wasm.abi import abi_tables, load_data_file
from wasmhub.wasm.report import ModuleReport

Status = Literal["compatible", "incompatible", "unverified"]


@dataclass(frozen=True)
class HostProfile:
    key: str
    abi_versions: frozenset[str]
    wasi_modules: frozenset[str]
    wasi_functions: frozenset[str]
    assumptions: tuple[str, ...]


@dataclass(frozen=True)
class PlatformVersion:
    platform: str
    platform_name: str
    version: str
    filter_types: frozenset[str]
    profile: HostProfile | None  # None: legacy, pre-marker ABI
    legacy_abi: str | None
    extra_wasi_unverified: bool
    assumptions: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class CompatibilityVerdict:
    platform: str
    platform_name: str
    version: str
    status: Status
    reasons: tuple[str, ...]  # why not (incompatible) or why we cannot tell (unverified)
    notes: tuple[str, ...] = ()  # assumptions the verdict rests on

    @property
    def loads(self) -> bool | None:
        return {"compatible": True, "incompatible": False}.get(self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "platform_name": self.platform_name,
            "version": self.version,
            "status": self.status,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


@cache
def platform_versions() -> tuple[PlatformVersion, ...]:
    raw = load_data_file("platforms.yaml")
    profiles = {
        key: HostProfile(
            key,
            frozenset(p["abi_versions"]),
            frozenset(p["wasi_modules"]),
            frozenset(p["wasi_functions"]),
            tuple(p.get("assumptions", ())),
        )
        for key, p in raw["host_profiles"].items()
    }
    out: list[PlatformVersion] = []
    for key, platform in raw["platforms"].items():
        for entry in platform["versions"]:
            profile = profiles[entry["profile"]] if "profile" in entry else None
            assumptions = tuple(entry.get("assumptions", ())) + (
                profile.assumptions if profile else ()
            )
            out.append(
                PlatformVersion(
                    platform=key,
                    platform_name=platform["name"],
                    version=str(entry["version"]),
                    filter_types=frozenset(platform["filter_types"]),
                    profile=profile,
                    legacy_abi=entry.get("legacy_abi"),
                    extra_wasi_unverified=bool(platform.get("extra_wasi_unverified", False)),
                    assumptions=assumptions,
                    sources=tuple(platform.get("sources", ())) + tuple(entry.get("sources", ())),
                )
            )
    return tuple(out)


def platforms() -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.platform for v in platform_versions()))


def compatibility(report: ModuleReport, platform: str | None = None) -> list[CompatibilityVerdict]:
    """One verdict per known platform version (or only ``platform``'s versions)."""
    chosen = [v for v in platform_versions() if platform is None or v.platform == platform]
    if platform is not None and not chosen:
        raise ValueError(f"unknown platform {platform!r}; known: {', '.join(platforms())}")
    return [_verdict(report, target) for target in chosen]


def _verdict(report: ModuleReport, target: PlatformVersion) -> CompatibilityVerdict:
    def make(status: Status, reasons: list[str]) -> CompatibilityVerdict:
        return CompatibilityVerdict(
            target.platform,
            target.platform_name,
            target.version,
            status,
            tuple(reasons),
            target.assumptions,
        )

    if not report.is_proxy_wasm:
        return make(
            "incompatible",
            ["not a proxy-wasm module (no proxy_abi_version_* marker and no proxy_on_* callbacks)"],
        )
    if target.profile is None:
        return make(
            "unverified",
            [
                f"{target.platform_name} {target.version} uses the "
                f"pre-marker ABI {target.legacy_abi}; modules must be "
                "built against that exact envoy-wasm commit"
            ],
        )
    hard, soft = _problems(report, target, target.profile)
    if hard:
        return make("incompatible", hard)
    return make("unverified", soft) if soft else make("compatible", [])


def _problems(
    report: ModuleReport, target: PlatformVersion, profile: HostProfile
) -> tuple[list[str], list[str]]:
    hard: list[str] = []
    soft: list[str] = []
    abi = report.abi_version
    if abi is None:
        hard.append(
            "Missing or unknown Proxy-Wasm ABI version: the module exports no "
            "proxy_abi_version_* marker"
        )
    elif abi not in profile.abi_versions:
        hard.append(
            f"ABI {abi} is not supported (supports {', '.join(sorted(profile.abi_versions))})"
        )
    else:
        allowed = abi_tables().host_functions(abi) | abi_tables().runtime_env
        hard.extend(
            f"missing import env.{h.name} (not provided for ABI {abi})"
            for h in report.host_functions
            if h.name not in allowed
        )
    for qualified in report.unknown_imports:
        if not qualified.startswith("env."):
            hard.append(
                f"missing import {qualified}: no proxy-wasm host provides "
                f"module {qualified.split('.', 1)[0]!r}"
            )
    for qualified in report.wasi_functions:
        module, name = qualified.split(".", 1)
        if module not in profile.wasi_modules or name not in profile.wasi_functions:
            message = f"missing import {qualified} (WASI function not provided)"
            (soft if target.extra_wasi_unverified else hard).append(message)
    if report.filter_types and not report.filter_types & target.filter_types:
        hard.append(
            f"{target.platform_name} runs only {', '.join(sorted(target.filter_types))}"
            f" filters; the module is a {', '.join(sorted(report.filter_types))} filter"
        )
    return hard, soft
