"""The typed ``Deployment``: one plugin, one platform, where and how it runs.

A ``Deployment`` is what every provider renders from, what ``wasmhub deploy`` builds from
its options and what a GitOps YAML file holds. The file form is a ``PluginDeployment``
document (``apiVersion: wasmhub.io/v1alpha1``; camelCase keys, as Kubernetes writes them)
or its bare ``spec``; :func:`load_deployment` reads both. Field errors are
:class:`~wasmhub.deploy.errors.SpecError` naming the field (``priority``,
``targets.selector``, ``vmEnv[0].value``), so a user can find it in their file.

The plugin reference starts as what the user typed (``plugin.ref``) and is *resolved*
(``wasmhub.deploy.resolve``) to the manifest digest and the module's sha256 before any
provider renders: every resource pins an immutable digest.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from wasmhub.deploy.errors import SpecError

API_VERSION = "wasmhub.io/v1alpha1"
KIND = "PluginDeployment"
MAX_ENV = 256  # Istio's limit (WasmPlugin vmConfig.env maxItems)
MAX_ENV_VALUE = 2048
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HEX = re.compile(r"^[a-f0-9]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_problem(key: str, value: str) -> str | None:
    """Why ``key: value`` is not a Kubernetes label (None when it is one)."""
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return f"label key {key!r}: at most one '/' (after a DNS prefix)"
    if "/" in key and not prefix:
        return f"label key {key!r}: the prefix before '/' is empty"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"label key {key!r}: the prefix must be a lowercase DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (f"label key {key!r}: 1-63 characters of a-z, A-Z, 0-9, '-', '_', '.', "
                "starting and ending with a letter or digit")
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (f"label value {value!r} (key {key}): at most 63 characters of a-z, A-Z, "
                "0-9, '-', '_', '.', starting and ending with a letter or digit")
    return None


class Platform(StrEnum):
    ISTIO = "istio"  # extensions.istio.io WasmPlugin
    ISTIO_TRAFFIC_EXTENSION = "istio-trafficextension"  # extensions.istio.io TrafficExtension
    ENVOY_GATEWAY = "envoy-gateway"
    HIGRESS = "higress"
    CONSUL = "consul"
    ENVOY = "envoy"
    GLOO = "gloo"

    @property
    def compat_key(self) -> str:
        """The platform's key in ``wasm/data/platforms.yaml``."""
        return "istio" if self is Platform.ISTIO_TRAFFIC_EXTENSION else self.value


class Phase(StrEnum):
    """Filter-chain phase; the chain runs AUTHN, then AUTHZ, then STATS, then the rest."""

    AUTHN = "AUTHN"
    AUTHZ = "AUTHZ"
    STATS = "STATS"
    UNSPECIFIED = "UNSPECIFIED"


class FailStrategy(StrEnum):
    FAIL_CLOSED = "fail-closed"  # a broken or missing plugin denies traffic
    FAIL_OPEN = "fail-open"  # ... lets traffic through without the plugin
    RELOAD = "reload"  # a crashed VM is restarted (Envoy FAIL_RELOAD)


class PullPolicy(StrEnum):
    IF_NOT_PRESENT = "IfNotPresent"
    ALWAYS = "Always"


class PluginType(StrEnum):
    HTTP = "http"
    NETWORK = "network"


class TrafficMode(StrEnum):
    CLIENT = "CLIENT"
    SERVER = "SERVER"
    CLIENT_AND_SERVER = "CLIENT_AND_SERVER"


class CodeSource(StrEnum):
    OCI = "oci"  # the proxy's agent pulls the image from the hub's registry
    HTTP = "http"  # the proxy fetches the raw module from the hub's /modules/ by sha256


UpdatePolicy = Literal["pinned", "follow-tag"]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class PluginRef(_Model):
    """The plugin: as typed (``ref``) and, once resolved, pinned by digest."""

    ref: str = Field(min_length=1, description="host/namespace/name:tag or ...@sha256:...")
    registry: str = ""  # host[:port] of the hub's registry
    repository: str = ""  # namespace/name
    tag: str | None = None
    digest: str | None = None  # manifest digest: what OCI pulls verify
    module_sha256: str | None = None  # hex of the raw module: what HTTP fetches verify
    hub_url: str = ""  # http(s)://host:port, the base of /modules/
    private: bool = False

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError("must be sha256:<64 lowercase hex>")
        return value

    @field_validator("module_sha256")
    @classmethod
    def _module(cls, value: str | None) -> str | None:
        if value is not None and not _HEX.match(value):
            raise ValueError("must be 64 lowercase hex characters")
        return value

    @property
    def resolved(self) -> bool:
        return bool(self.digest and self.module_sha256 and self.registry and self.hub_url)

    @property
    def image(self) -> str:
        """``host/ns/name:tag`` (or ``@digest`` when no tag): an image reference."""
        if self.tag:
            return f"{self.registry}/{self.repository}:{self.tag}"
        return f"{self.registry}/{self.repository}@{self.digest}"

    @property
    def oci_url(self) -> str:
        return f"oci://{self.image}"

    @property
    def manifest_sha256(self) -> str:
        """The hex an OCI ``sha256`` field takes: the manifest digest's, not the module's."""
        return (self.digest or "").removeprefix("sha256:")

    @property
    def module_url(self) -> str:
        return f"{self.hub_url.rstrip('/')}/modules/sha256:{self.module_sha256}.wasm"


class TargetRef(_Model):
    group: str = "gateway.networking.k8s.io"
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=253)


def target_ref(text: str) -> dict[str, str]:
    """``KIND/NAME`` (``HTTPRoute/store``, ``Service/web``) as a targetRefs item; a core
    ``Service``/``ServiceEntry`` gets the empty group, the rest Gateway API's."""
    kind, found, name = text.strip().partition("/")
    if not found or not kind or not name:
        raise ValueError(f"{text!r}: expected KIND/NAME (e.g. HTTPRoute/store)")
    group = "" if kind in ("Service", "ServiceEntry") else "gateway.networking.k8s.io"
    return {"group": group, "kind": kind, "name": name}


class EnvoyListener(_Model):
    """Where a plain-Envoy bootstrap listens and what it proxies to."""

    listen_address: str = "0.0.0.0"
    listen_port: int = Field(default=10000, ge=1, le=65535)
    upstream_address: str = "127.0.0.1"
    upstream_port: int = Field(default=8080, ge=1, le=65535)
    admin_address: str = "127.0.0.1"
    admin_port: int = Field(default=9901, ge=0, le=65535)


class Targets(_Model):
    """Where the plugin applies; each platform reads the kinds it has (docs/deploy.md)."""

    selector: dict[str, str] | None = None  # workload labels (Istio)
    target_refs: list[TargetRef] = Field(default_factory=list, max_length=16)
    services: list[str] = Field(default_factory=list)  # Consul service; Higress service rule
    ingresses: list[str] = Field(default_factory=list)  # Higress "namespace/name"
    domains: list[str] = Field(default_factory=list)  # Higress domain rules (wildcards)
    gateways: list[str] = Field(default_factory=list)  # Gloo Gateway names
    envoy: EnvoyListener = Field(default_factory=EnvoyListener)

    @model_validator(mode="after")
    def _exclusive(self) -> Targets:
        if self.selector is not None and self.target_refs:
            raise ValueError("selector and targetRefs are mutually exclusive; give one")
        return self

    @field_validator("selector")
    @classmethod
    def _labels(cls, selector: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (selector or {}).items():
            problem = label_problem(key, value)
            if problem:
                raise ValueError(problem)
        return selector


class EnvVar(_Model):
    name: str = Field(min_length=1, max_length=256)
    value: str | None = Field(default=None, max_length=MAX_ENV_VALUE)
    from_host: bool = False  # read the proxy's own environment variable ``name``

    @model_validator(mode="after")
    def _value(self) -> EnvVar:
        if not _ENV_NAME.match(self.name):
            raise ValueError(f"name {self.name!r} is not an environment variable name")
        if self.from_host and self.value is not None:
            raise ValueError(f"{self.name}: a host variable takes no inline value")
        if not self.from_host and self.value is None:
            raise ValueError(f"{self.name}: give an inline value or fromHost: true")
        return self


class TrafficMatch(_Model):
    mode: TrafficMode = TrafficMode.CLIENT_AND_SERVER
    ports: list[int] = Field(default_factory=list)

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        for port in ports:
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} is not in 1-65535")
        return ports


class Deployment(_Model):
    name: str = Field(min_length=1, max_length=63)
    namespace: str = Field(default="default", min_length=1, max_length=63)
    platform: Platform
    platform_version: str | None = None  # compatibility target; default: newest known
    plugin: PluginRef
    code_source: CodeSource | None = None  # None: the platform's default (docs/deploy.md)
    targets: Targets = Field(default_factory=Targets)
    phase: Phase = Phase.UNSPECIFIED
    priority: int | None = Field(default=None, ge=1, le=1000)
    config: Any = None  # the plugin configuration, checked against the plugin's schema
    vm_env: list[EnvVar] = Field(default_factory=list, max_length=MAX_ENV)
    fail_strategy: FailStrategy = FailStrategy.FAIL_CLOSED
    pull_policy: PullPolicy | None = None
    pull_secret: str | None = Field(default=None, min_length=1, max_length=253)
    match: list[TrafficMatch] = Field(default_factory=list)
    plugin_type: PluginType = PluginType.HTTP
    root_id: str | None = Field(default=None, min_length=1, max_length=256)
    plugin_name: str | None = Field(default=None, min_length=1, max_length=256)
    # Consul only: the upstream service through which proxies reach the hub.
    module_service: str = Field(default="wasmhub", min_length=1, max_length=63)
    # Operator only: keep the digest first resolved, or redeploy when the tag moves.
    update_policy: UpdatePolicy = Field(default="pinned")

    @field_validator("name", "namespace")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a DNS label (lowercase a-z, 0-9, '-')")
        return value

    @property
    def filter_name(self) -> str:
        """The Envoy filter's ``name`` (PluginConfig.name)."""
        return self.plugin_name or self.name

    def with_plugin(self, plugin: PluginRef) -> Deployment:
        return self.model_copy(update={"plugin": plugin})


def _field(location: tuple[int | str, ...]) -> str:
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + to_camel(part)
    return out or "spec"


def spec_error(exc: ValidationError) -> SpecError:
    """The first problem pydantic found, as a SpecError naming the field (camelCase)."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    others = len(exc.errors()) - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return SpecError(_field(first["loc"]), message)


def parse_deployment(data: Any) -> Deployment:
    """A Deployment from a mapping: a ``PluginDeployment`` document or its ``spec``."""
    if not isinstance(data, dict):
        raise SpecError("spec", "a deployment is a mapping")
    if "apiVersion" in data or "kind" in data:
        if data.get("apiVersion") != API_VERSION or data.get("kind") != KIND:
            raise SpecError("kind", f"expected apiVersion {API_VERSION}, kind {KIND}")
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise SpecError("metadata", "must be a mapping")
        if not isinstance(data.get("spec") or {}, dict):
            raise SpecError("spec", "must be a mapping")
        spec = dict(data.get("spec") or {})
        spec.setdefault("name", metadata.get("name"))
        spec.setdefault("namespace", metadata.get("namespace", "default"))
        data = spec
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc) from None


def load_deployment(path: Path) -> Deployment:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(path), f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(str(path), f"not valid YAML: {exc}") from exc
    return parse_deployment(data)


def to_document(deployment: Deployment) -> dict[str, Any]:
    """The ``PluginDeployment`` document of a deployment (what ``load_deployment`` reads)."""
    spec = deployment.model_dump(mode="json", by_alias=True, exclude_none=True,
                                 exclude={"name", "namespace"})
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": deployment.name, "namespace": deployment.namespace},
        "spec": spec,
    }
