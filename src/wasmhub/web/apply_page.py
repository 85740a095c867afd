"""The Apply form's logic: the posted fields → a ``Deployment`` → the providers' output.

The web handler (``web.deploy_pages``) stays thin; everything between the form and the
rendered resources is here, and all of it is ``wasmhub.deploy``'s: the catalog's version
becomes a :class:`~wasmhub.deploy.resolve.ResolvedPlugin` (the hub *is* the resolver, no
HTTP round trip to itself), :func:`~wasmhub.deploy.compose.complete` fills the plugin's
defaults exactly as ``wasmhub deploy`` and the operator do, :func:`wasmhub.deploy.render`
renders and validates against the platform schema, :func:`~wasmhub.deploy.checks.preflight`
checks. There is no second renderer.

Every problem lands on a form field (:data:`FIELD_OF` maps a ``SpecError``'s field, e.g.
``targets.selector`` or ``vmEnv[0]``, to the input that produced it) or, when no field
fits (a schema violation, an unpinned version), in the form-wide ``_form`` list: bad
input re-renders the form, it never raises.

:func:`command_line` writes the equivalent ``wasmhub deploy`` command for what was given.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wasmhub.catalog.snippets import hub_url, registry_host
from wasmhub.catalog.types import VersionDetail
from wasmhub.deploy import PROVIDERS, render
from wasmhub.deploy.checks import preflight
from wasmhub.deploy.common import k8s_name
from wasmhub.deploy.compose import complete
from wasmhub.deploy.errors import SpecError
from wasmhub.deploy.provider import Rendering
from wasmhub.deploy.resolve import ResolvedPlugin, hub_url_for
from wasmhub.deploy.spec import (
    CodeSource,
    Deployment,
    FailStrategy,
    Phase,
    Platform,
    PluginRef,
    parse_deployment,
    target_ref,
)
from wasmhub.errors import WasmhubError
from wasmhub.wasm.report import ModuleReport

FORM_WIDE = "_form"
MAX_LINES = 64  # lines one list field (labels, refs, env...) may hold
# The text inputs of the form (the plugin config's fields are the schema form's "cfg…").
FIELDS = ("platform", "name", "namespace", "selector", "target_refs", "services",
          "ingresses", "domains", "gateways", "listen_port", "upstream", "phase", "priority",
          "env", "host_env", "fail_strategy", "source", "pull_secret")
# Which target inputs each platform reads (the others are hidden by static/apply.js).
TARGET_FIELDS: dict[Platform, tuple[str, ...]] = {
    Platform.ISTIO: ("selector", "target_refs", "services"),
    Platform.ISTIO_TRAFFIC_EXTENSION: ("selector", "target_refs", "services"),
    Platform.ENVOY_GATEWAY: ("target_refs",),
    Platform.HIGRESS: ("ingresses", "domains", "services"),
    Platform.CONSUL: ("services",),
    Platform.ENVOY: ("listen_port", "upstream"),
    Platform.GLOO: ("gateways",),
}
# A SpecError's field (camelCase path, first segment(s)) → the form input to show it at.
FIELD_OF: tuple[tuple[str, str], ...] = (
    ("targets.selector", "selector"), ("targets.targetRefs", "target_refs"),
    ("targets.services", "services"), ("targets.ingresses", "ingresses"),
    ("targets.domains", "domains"), ("targets.gateways", "gateways"),
    ("targets.envoy.listenPort", "listen_port"), ("targets.envoy.upstream", "upstream"),
    ("targets", "selector"), ("vmEnv", "env"), ("failStrategy", "fail_strategy"),
    ("codeSource", "source"), ("pullSecret", "pull_secret"), ("priority", "priority"),
    ("phase", "phase"), ("platform", "platform"), ("name", "name"),
    ("namespace", "namespace"), ("config", "cfg"),
)
_INDEX = re.compile(r"\[\d+\]")
_TARGET_KEY = {"selector": "selector", "target_refs": "targetRefs", "services": "services",
               "ingresses": "ingresses", "domains": "domains", "gateways": "gateways",
               "listen_port": "envoy", "upstream": "envoy"}


def form_field(spec_field: str) -> str:
    """The form input a ``SpecError`` field belongs to (``_form`` when none does)."""
    bare = _INDEX.sub("", spec_field)
    for prefix, name in FIELD_OF:
        if bare == prefix or bare.startswith(prefix + "."):
            return name
    return FORM_WIDE


@dataclass
class ApplyForm:
    """What the user typed, as text (so the form re-renders exactly as submitted)."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, data: Mapping[str, Any]) -> ApplyForm:
        return cls({k: str(data.get(k) or "").strip() for k in FIELDS
                    if isinstance(data.get(k) or "", str)})

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in self.get(name).splitlines() if line.strip()]

    @property
    def platform(self) -> str:
        return self.get("platform") or Platform.ISTIO.value

    @property
    def target_fields(self) -> tuple[str, ...]:
        """The target inputs the chosen platform reads (none for an unknown platform)."""
        try:
            return TARGET_FIELDS[Platform(self.platform)]
        except ValueError:
            return ()

    def target_lines(self, name: str) -> list[str]:
        return self.lines(name) if name in self.target_fields else []


@dataclass
class ApplyResult:
    errors: dict[str, list[str]] = field(default_factory=dict)  # form input → messages
    warnings: list[str] = field(default_factory=list)
    deployment: Deployment | None = None
    rendering: Rendering | None = None
    command: str = ""

    def add(self, name: str, message: str) -> None:
        messages = self.errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rendering is not None

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())


def resolved_from_catalog(version: VersionDetail, base_url: str, *, private: bool = False,
                          report: ModuleReport | None = None) -> ResolvedPlugin:
    """The catalog's version as ``resolve`` would have returned it from this hub's API."""
    host = registry_host(base_url)
    repository = f"{version.namespace}/{version.name}"
    tag = version.version.tag
    ref = PluginRef(
        ref=f"{host}/{repository}:{tag}", registry=host, repository=repository, tag=tag,
        digest=version.version.digest or None, module_sha256=version.module_sha256 or None,
        hub_url=hub_url(base_url), private=private)
    return ResolvedPlugin(
        ref=ref, config_schema=version.config_schema, example_config=version.example_config,
        root_id=version.root_id, phase=version.phase, priority=version.priority,
        filter_types=version.filter_types, report=report)


def _pairs(form: ApplyForm, name: str, sep: str, what: str, result: ApplyResult
           ) -> list[tuple[str, str]]:
    out = []
    for line in form.lines(name)[:MAX_LINES + 1]:
        key, found, value = line.partition(sep)
        if not found or not key.strip():
            result.add(name, f"{line!r}: expected {what}")
            continue
        out.append((key.strip(), value.strip()))
    if len(form.lines(name)) > MAX_LINES:
        result.add(name, f"at most {MAX_LINES} lines")
    return out


def _int(form: ApplyForm, name: str, result: ApplyResult) -> int | None:
    text = form.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        result.add(name, f"{text!r} is not a whole number")
        return None


def _draft_fields(form: ApplyForm, config: Any, result: ApplyResult) -> dict[str, Any]:
    """The Deployment's fields from the form (parse errors go to ``result``)."""
    refs = []
    for line in form.target_lines("target_refs")[:MAX_LINES]:
        try:
            refs.append(target_ref(line))
        except ValueError as exc:
            result.add("target_refs", str(exc))
    selector = dict(_pairs(form, "selector", "=", "KEY=VALUE (e.g. app=web)", result)
                    if "selector" in form.target_fields else [])
    env: list[dict[str, Any]] = [{"name": k, "value": v}
           for k, v in _pairs(form, "env", "=", "NAME=VALUE", result)]
    env += [{"name": n, "fromHost": True} for n in form.lines("host_env")[:MAX_LINES]]
    envoy: dict[str, Any] = {}
    listen = _int(form, "listen_port", result) if "listen_port" in form.target_fields else None
    if listen is not None:
        envoy["listenPort"] = listen
    if form.get("upstream") and "upstream" in form.target_fields:
        host, _, port = form.get("upstream").rpartition(":")
        if not host or not port.isdigit():
            result.add("upstream", f"{form.get('upstream')!r}: expected HOST:PORT")
        else:
            envoy.update(upstreamAddress=host, upstreamPort=int(port))
    targets = {"selector": selector or None, "targetRefs": refs,
               "services": form.lines("services")[:MAX_LINES],
               "ingresses": form.lines("ingresses")[:MAX_LINES],
               "domains": form.lines("domains")[:MAX_LINES],
               "gateways": form.lines("gateways")[:MAX_LINES], "envoy": envoy}
    # Only the platform's own target inputs count (without JS every input is posted).
    relevant = {_TARGET_KEY[f] for f in form.target_fields}
    targets = {k: v for k, v in targets.items() if k in relevant}
    fields = {
        "name": form.get("name") or "pending", "namespace": form.get("namespace") or None,
        "platform": form.platform, "plugin": {"ref": "pending"},
        "targets": {k: v for k, v in targets.items() if v not in (None, [], {})},
        "phase": form.get("phase") or None, "priority": _int(form, "priority", result),
        "config": config, "vmEnv": env, "failStrategy": form.get("fail_strategy") or None,
        "codeSource": form.get("source") or None, "pullSecret": form.get("pull_secret") or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def build(form: ApplyForm, version: VersionDetail, base_url: str, *, config: Any,
          config_errors: Mapping[str, list[str]], private: bool = False,
          report: ModuleReport | None = None, force: bool = False) -> ApplyResult:
    """Form → Deployment → rendering (+ checks and the command line). Never raises for
    bad input: every problem is in ``result.errors`` under the input it came from.

    ``force`` turns an incompatibility into a warning: the render-only view shows what
    would be applied; applying to the cluster passes ``force=False``."""
    result = ApplyResult()
    for name, messages in config_errors.items():
        for message in messages:
            result.add(name, message)
    if form.platform not in {p.value for p in Platform}:
        result.add("platform", f"{form.platform!r} is not a platform wasmhub deploys to")
        return result
    fields = _draft_fields(form, config, result)
    result.command = command_line(form, version, base_url, config)
    try:
        draft = parse_deployment(fields)
    except SpecError as exc:
        result.add(form_field(exc.field), exc.message)
        return result
    if result.errors:
        return result  # a field that did not parse was left out: do not render without it
    try:
        resolved = resolved_from_catalog(version, base_url, private=private, report=report)
        given = {k for k in ("name", "namespace", "phase", "priority") if form.get(k)}
        deployment = complete(draft, resolved, given | {"config"})
        rendering = render(deployment)
    except SpecError as exc:
        result.add(form_field(exc.field), exc.message)
        return result
    except ValueError as exc:  # a catalog fact the spec rejects (an unpinnable digest)
        result.add(FORM_WIDE, f"this version cannot be deployed: {exc}")
        return result
    except WasmhubError as exc:  # SchemaViolation: a rendered resource breaks the schema
        result.add(FORM_WIDE, exc.message)
        return result
    checks = preflight(deployment, resolved, force=force)
    for problem in checks.errors:
        where, _, _message = problem.partition(":")
        name = form_field(where.strip())
        if name == "cfg" and config_errors:
            continue  # the schema form already put each violation at its field
        result.add(name, problem)
    result.deployment = deployment
    result.rendering = rendering
    result.warnings = [*checks.warnings, *rendering.warnings]
    return result


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def command_line(form: ApplyForm, version: VersionDetail, base_url: str, config: Any) -> str:
    """The ``wasmhub deploy`` command that renders the same resources."""
    host = registry_host(base_url)
    ref = f"{host}/{version.namespace}/{version.name}:{version.version.tag}"
    args = ["wasmhub", "deploy", form.platform, ref]

    def option(flag: str, name: str) -> None:
        if form.get(name):
            args.extend([flag, form.get(name)])

    def repeated(flag: str, name: str) -> None:
        for line in form.lines(name)[:MAX_LINES]:
            args.extend([flag, line])

    def target(flag: str, name: str) -> None:
        if name in form.target_fields:
            repeated(flag, name)

    option("--name", "name")
    option("-n", "namespace")
    target("-l", "selector")
    target("--target-ref", "target_refs")
    target("--service", "services")
    target("--ingress", "ingresses")
    target("--domain", "domains")
    target("--gateway", "gateways")
    if form.platform == Platform.ENVOY.value:
        option("--listen-port", "listen_port")
        option("--upstream", "upstream")
    option("--phase", "phase")
    option("--priority", "priority")
    if config is not None and _compact(config) != _compact(version.example_config):
        args.extend(["--config", _compact(config)])
    repeated("--env", "env")
    repeated("--host-env", "host_env")
    option("--fail-strategy", "fail_strategy")
    option("--source", "source")
    option("--pull-secret", "pull_secret")
    if hub_url_for(host) != hub_url(base_url):
        args.extend(["--hub", hub_url(base_url)])
    return " ".join(shlex.quote(a) for a in args)


def choices() -> dict[str, list[tuple[str, str]]]:
    """The select boxes' options: (value, label)."""
    return {
        "platform": [(p.value, PROVIDERS[p].title) for p in Platform],
        "phase": [(p.value, p.value) for p in Phase],
        "fail_strategy": [(f.value, f.value) for f in FailStrategy],
        "source": [(s.value, s.value) for s in CodeSource],
    }


def default_name(version: VersionDetail) -> str:
    return k8s_name(version.name)
