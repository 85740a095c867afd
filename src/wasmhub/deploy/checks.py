"""What must hold before anything is applied (``wasmhub deploy``, the operator).

:func:`preflight` returns a :class:`CheckReport` or raises
:class:`~wasmhub.deploy.errors.CheckFailed` listing every refusal:

- **digest pinned**: the plugin is resolved to a manifest digest and module sha256;
- **compatibility**: the module's ABI, host functions and filter type against the target
  platform version (``wasm/data/platforms.yaml``; default: the newest version we know).
  *Incompatible* refuses with the host's reasons; ``force=True`` turns that refusal into a
  warning. *Unverified* (our data cannot decide) is a warning;
- **config**: the plugin configuration against the plugin's JSON Schema, each violation
  named by its path (``config.limit: -1 is less than the minimum of 1``);
- **pull secret**: a private plugin pulled as an OCI image needs ``pullSecret``;
- **fail-closed**: a warning that a broken or unreachable module denies traffic.

:func:`trust_gate` is the signature check of both (docs/trust.md): the trust policy of the
plugin's namespace, read from the hub, and a signature by one of its keys over exactly the
resolved digest when the policy requires one (``UntrustedPlugin`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jsonschema

from wasmhub.deploy.errors import CheckFailed
from wasmhub.deploy.resolve import ResolvedPlugin
from wasmhub.deploy.spec import (
    CodeSource,
    Deployment,
    FailStrategy,
    Platform,
    PluginRef,
    PluginType,
)
from wasmhub.wasm.compat import CompatibilityVerdict, compatibility, platform_versions

if TYPE_CHECKING:  # the gate pulls in the registry client
    from wasmhub.signing.policy import TrustDecision

NO_OCI = frozenset({Platform.CONSUL, Platform.ENVOY})


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verdict: CompatibilityVerdict | None = None


def target_version(platform: Platform, wanted: str | None) -> str:
    known = [v.version for v in platform_versions() if v.platform == platform.compat_key]
    if not known:
        raise ValueError(f"no compatibility data for {platform.value}")
    if wanted is None:
        return known[-1]
    if wanted not in known:
        raise ValueError(f"platformVersion {wanted!r} is not one we have data for "
                         f"({', '.join(known)})")
    return wanted


def _compat(d: Deployment, plugin: ResolvedPlugin, report: CheckReport, force: bool) -> None:
    try:
        version = target_version(d.platform, d.platform_version)
    except ValueError as exc:
        report.errors.append(str(exc))
        return
    if plugin.report is None:
        message = "compatibility: the module could not be inspected"
        (report.warnings if force else report.errors).append(message)
        return
    verdict = next(v for v in compatibility(plugin.report, d.platform.compat_key)
                   if v.version == version)
    report.verdict = verdict
    where = f"{verdict.platform_name} {verdict.version}"
    if verdict.status == "incompatible":
        message = f"compatibility: incompatible with {where}: {'; '.join(verdict.reasons)}"
        if force:
            report.warnings.append(message + " (overridden by --force)")
        else:
            report.errors.append(message + " (--force to deploy anyway)")
    elif verdict.status == "unverified":
        report.warnings.append(f"compatibility: unverified on {where}: "
                               + "; ".join(verdict.reasons))
    kinds = set(plugin.report.filter_types)
    wanted = "network" if d.plugin_type is PluginType.NETWORK else "http"
    if kinds and wanted not in kinds:
        report.errors.append(f"pluginType: the module is a {', '.join(sorted(kinds))} filter,"
                             f" not {wanted}")


def _config(d: Deployment, plugin: ResolvedPlugin, report: CheckReport) -> None:
    schema = plugin.config_schema
    if not schema:
        return
    try:
        validator = jsonschema.Draft202012Validator(schema)
    except jsonschema.SchemaError as exc:
        report.warnings.append(f"config: the plugin's schema is unusable ({exc.message})")
        return
    for error in sorted(validator.iter_errors(d.config), key=lambda e: list(e.path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        report.errors.append(f"config{path}: {error.message}")


def preflight(d: Deployment, plugin: ResolvedPlugin, *, force: bool = False) -> CheckReport:
    report = CheckReport()
    if not d.plugin.resolved:
        report.errors.append(f"plugin.digest: {d.plugin.ref} is not pinned to a digest")
    _compat(d, plugin, report, force)
    _config(d, plugin, report)
    oci = d.platform not in NO_OCI and (d.code_source or CodeSource.OCI) is CodeSource.OCI
    if d.plugin.private and oci and not d.pull_secret:
        report.errors.append("pullSecret: the plugin is private; give --pull-secret NAME "
                             "(a docker-registry Secret in the target namespace)")
    if d.fail_strategy is FailStrategy.FAIL_CLOSED:
        report.warnings.append("failStrategy: fail-closed — if the module cannot be fetched "
                               "or fails, matching traffic is denied")
    return report


def require(report: CheckReport) -> CheckReport:
    """``report`` when it has no errors; else CheckFailed listing them."""
    if report.errors:
        raise CheckFailed(report.errors)
    return report


def trust_gate(plugin: PluginRef, *, force: bool = False) -> TrustDecision | None:
    """The signature policy of ``plugin``'s namespace, for deploy: asked of the hub the
    plugin was resolved on (``plugin.hub_url``), checked against its registry. Raises
    ``UntrustedPlugin`` when a policy requiring signatures finds none by a trusted key over
    exactly ``plugin.digest`` (and refuses ``force``); None for a plain registry."""
    from wasmhub.signing.gate import remote_decision
    from wasmhub.signing.policy import Purpose

    if not plugin.digest:
        raise CheckFailed([f"plugin.digest: {plugin.ref} is not pinned to a digest"])
    return remote_decision(plugin.registry, plugin.repository, plugin.digest,
                           hub_url=plugin.hub_url, purpose=Purpose.DEPLOY, force=force)
