"""``plugin.yaml``: the hub metadata of a plugin, its Pydantic model and its loader.

Owns the file format documented in docs/plugin-yaml.md: names and i18n texts, category,
licence and links, default phase/priority, root id, filter type, supported targets, the
JSON Schema of the plugin configuration (checked against its meta-schema) and an example
configuration (checked against the schema). Every problem becomes a ``PluginYamlError``
naming the field path, e.g. ``spec.priority: must be between 1 and 1000``.

Untrusted input, so parsing is bounded: the file may be at most
:data:`MAX_PLUGIN_YAML_BYTES`; YAML aliases (``&a`` / ``*a``) may not expand the
document past :data:`MAX_EXPANDED_SIZE` (roughly characters after expansion), nor may
it nest deeper than :data:`MAX_DEPTH` or refer to itself; this is checked on the
composed node graph *before* any Python object is built, so a "billion laughs" file
costs what its own bytes cost. Every text field has a length limit (the ``MAX_*``
constants below, listed in docs/plugin-yaml.md), and ``configSchema`` and
``exampleConfig`` may each take at most :data:`MAX_CONFIG_JSON_BYTES` as JSON.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlparse

import jsonschema
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from wasmhub.wasm.errors import PluginYamlError
from wasmhub.wasm.media_types import Annotation

API_VERSION = "wasmhub.dev/v1"
# One OCI repository path component (distribution spec), kept short for URLs.
NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
# SemVer without build metadata ("+" is not allowed in OCI tags).
VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
LICENSE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")
KEYWORD_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Limits (docs/plugin-yaml.md and docs/operations.md "Limits").
MAX_PLUGIN_YAML_BYTES = 256 * 1024
MAX_EXPANDED_SIZE = 1024 * 1024  # nodes + scalar characters once aliases are expanded
MAX_DEPTH = 64
MAX_TITLE_CHARS = 128  # displayName.*, maintainer names
MAX_DESCRIPTION_CHARS = 2000
MAX_URL_CHARS = 1024  # homepage, source, maintainer url
MAX_LICENSE_CHARS = 128
MAX_ROOT_ID_CHARS = 255
MAX_MAINTAINERS = 20
MAX_CONFIG_JSON_BYTES = 64 * 1024  # configSchema and exampleConfig, each


class Category(StrEnum):
    AUTH = "auth"
    SECURITY = "security"
    TRAFFIC = "traffic"
    TRANSFORMATION = "transformation"
    OBSERVABILITY = "observability"
    AI = "ai"
    OTHER = "other"


class Phase(StrEnum):
    """Istio/Higress ``WasmPlugin.phase`` (plugin-ecosystem.md row 33)."""

    AUTHN = "AUTHN"
    AUTHZ = "AUTHZ"
    STATS = "STATS"
    UNSPECIFIED_PHASE = "UNSPECIFIED_PHASE"


class Target(StrEnum):
    ISTIO = "istio"
    ENVOY = "envoy"
    ENVOY_GATEWAY = "envoy-gateway"
    HIGRESS = "higress"
    CONSUL = "consul"
    GLOO = "gloo"


class FilterType(StrEnum):
    HTTP = "http"
    NETWORK = "network"


# Targets that can run network (L4) filters (plugin-ecosystem.md row 39): Istio's
# WasmPlugin type NETWORK and raw Envoy; Higress, EG, Consul and Gloo patch HTTP only.
NETWORK_TARGETS = frozenset({Target.ISTIO, Target.ENVOY})


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"must be at most {MAX_URL_CHARS} characters")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class LocalizedText(_Model):
    en: StrictStr = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    zh: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else self.en


class Maintainer(_Model):
    name: StrictStr = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    email: StrictStr | None = Field(default=None, max_length=254)
    url: StrictStr | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_RE.match(value):
            raise ValueError("must be an e-mail address")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)


class PluginInfo(_Model):
    name: StrictStr
    version: StrictStr
    display_name: LocalizedText
    description: LocalizedText
    category: Category = Category.OTHER
    keywords: list[StrictStr] = Field(default_factory=list)
    license: StrictStr | None = None
    homepage: StrictStr | None = None
    source: StrictStr | None = None
    maintainers: list[Maintainer] = Field(default_factory=list, max_length=MAX_MAINTAINERS)
    icon: StrictStr | None = Field(default=None, max_length=255)  # icon file next to plugin.yaml

    @field_validator("display_name")
    @classmethod
    def _title_length(cls, value: LocalizedText) -> LocalizedText:
        for text in (value.en, value.zh or ""):
            if len(text) > MAX_TITLE_CHARS:
                raise ValueError(f"must be at most {MAX_TITLE_CHARS} characters")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 2 <= len(value) <= 64 or not NAME_RE.match(value):
            raise ValueError(
                "must be 2-64 characters of lowercase letters, digits and "
                "single '.', '_' or '-' separators (an OCI repository name)"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_RE.match(value):
            raise ValueError(
                "must be a semantic version like 1.2.3 or 1.2.3-rc.1 "
                "(no '+build' part: OCI tags cannot hold '+')"
            )
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        if len(value) > 20:
            raise ValueError("at most 20 keywords")
        for keyword in value:
            if not KEYWORD_RE.match(keyword):
                raise ValueError(
                    f"keyword {keyword!r} must be 1-32 lowercase letters, digits or '-'"
                )
        return value

    @field_validator("license")
    @classmethod
    def _license(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > MAX_LICENSE_CHARS:
            raise ValueError(f"must be at most {MAX_LICENSE_CHARS} characters")
        tokens = value.replace("(", " ").replace(")", " ").split()
        ok = (
            bool(tokens)
            and all(
                (t in ("AND", "OR", "WITH")) == (i % 2 == 1)
                and (i % 2 == 1 or LICENSE_ID_RE.match(t))
                for i, t in enumerate(tokens)
            )
            and len(tokens) % 2 == 1
        )
        if not ok:
            raise ValueError(
                "must be an SPDX licence expression like Apache-2.0 or MIT OR Apache-2.0"
            )
        return value

    @field_validator("homepage", "source")
    @classmethod
    def _links(cls, value: str | None) -> str | None:
        return _check_url(value)


class PluginSpec(_Model):
    root_id: StrictStr = Field(default="", max_length=MAX_ROOT_ID_CHARS)
    filter_type: FilterType = FilterType.HTTP
    phase: Phase = Phase.UNSPECIFIED_PHASE
    priority: StrictInt | None = None
    targets: list[Target] = Field(default_factory=list)
    config_schema: dict[str, Any] | None = None
    example_config: Any = None

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 1000:
            raise ValueError("must be between 1 and 1000")
        return value

    @field_validator("config_schema", "example_config")
    @classmethod
    def _config_size(cls, value: Any) -> Any:
        if value is not None:
            size = len(json.dumps(value, ensure_ascii=False).encode())
            if size > MAX_CONFIG_JSON_BYTES:
                raise ValueError(
                    f"is {size} bytes as JSON; the limit is {MAX_CONFIG_JSON_BYTES}"
                )
        return value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[Target]) -> list[Target]:
        if len(set(value)) != len(value):
            raise ValueError("lists a target twice")
        return value


class PluginMetadata(_Model):
    api_version: Literal["wasmhub.dev/v1"]
    kind: Literal["Plugin"]
    metadata: PluginInfo
    spec: PluginSpec = Field(default_factory=PluginSpec)

    @model_validator(mode="after")
    def _network_targets(self) -> PluginMetadata:
        if self.spec.filter_type is FilterType.NETWORK:
            bad = [t.value for t in self.spec.targets if t not in NETWORK_TARGETS]
            if bad:
                raise PluginYamlError(
                    "spec.targets",
                    f"{', '.join(bad)} run(s) HTTP filters "
                    "only; a network filter can target istio and envoy",
                )
        return self

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        return self.metadata.version

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def oci_annotations(self) -> dict[str, str]:
        info = self.metadata
        notes = {
            Annotation.TITLE.value: info.name,
            Annotation.VERSION.value: info.version,
            Annotation.DESCRIPTION.value: info.description.en,
        }
        optional = {
            Annotation.LICENSES: info.license,
            Annotation.SOURCE: info.source,
            Annotation.URL: info.homepage,
        }
        notes.update({k.value: v for k, v in optional.items() if v})
        if info.maintainers:
            notes[Annotation.AUTHORS.value] = ", ".join(
                f"{m.name} <{m.email}>" if m.email else m.name for m in info.maintainers
            )
        return notes


_TYPE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string (quote it in YAML if it looks like a number)",
    "int_type": "must be an integer",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "string_too_short": "must not be empty",
}


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that measures the composed document before constructing it."""

    def compose_document(self) -> yaml.Node | None:
        node: yaml.Node | None = super().compose_document()
        if node is not None:
            _check_expansion(node)
        return node


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose alias expansion is too large, too deep or cyclic.

    Aliases make the graph a DAG whose shared nodes count once per use; sizes are
    memoised per node, so the check costs the graph's size, not the expansion's.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise PluginYamlError("", "plugin.yaml has an alias that refers to itself")
        if depth > MAX_DEPTH:
            raise PluginYamlError("", f"plugin.yaml nests deeper than {MAX_DEPTH} levels")
        active.add(key)
        total = 1
        if isinstance(node, yaml.ScalarNode):
            total += len(node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        active.discard(key)
        if total > MAX_EXPANDED_SIZE:
            raise PluginYamlError(
                "", f"plugin.yaml expands to more than {MAX_EXPANDED_SIZE} characters "
                "through YAML aliases (&anchor / *alias); write the values out, or use "
                "fewer aliases"
            )
        sizes[key] = total
        return total

    size(root, 0)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind in ("enum", "literal_error"):
        return f"must be one of {error['ctx']['expected']}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return _TYPE_MESSAGES.get(kind, str(error["msg"]))


def _from_validation_error(exc: ValidationError) -> PluginYamlError:
    problems = [(_path(e["loc"]), _message(e)) for e in exc.errors()]
    path, problem = problems[0]
    if len(problems) > 1:
        problem += f" (and {len(problems) - 1} more problem(s))"
    error = PluginYamlError(path, problem)
    error.detail = [{"path": p, "problem": m} for p, m in problems]
    return error


def _check_schema(spec: PluginSpec) -> None:
    if spec.config_schema is None:
        if spec.example_config is not None:
            raise PluginYamlError("spec.exampleConfig", "needs spec.configSchema to check it")
        return
    validator_cls = jsonschema.validators.validator_for(
        spec.config_schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_cls.check_schema(spec.config_schema)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        raise PluginYamlError(
            f"spec.configSchema{where}", f"is not a valid JSON Schema: {exc.message}"
        ) from exc
    if spec.example_config is None:
        raise PluginYamlError("spec.exampleConfig", "is required when configSchema is given")
    error = jsonschema.exceptions.best_match(
        validator_cls(spec.config_schema).iter_errors(spec.example_config)
    )
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        raise PluginYamlError(
            f"spec.exampleConfig{where}", f"does not match configSchema: {error.message}"
        )


def load_plugin_yaml(text: bytes | str) -> PluginMetadata:
    """Parse and validate ``plugin.yaml``; raises ``PluginYamlError`` naming the field."""
    if len(text) > MAX_PLUGIN_YAML_BYTES:
        raise PluginYamlError(
            "", f"plugin.yaml is larger than {MAX_PLUGIN_YAML_BYTES} bytes"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PluginYamlError("", f"plugin.yaml is not UTF-8 text: {exc}") from exc
    try:
        raw = yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader subclass
    except RecursionError as exc:
        raise PluginYamlError("", f"plugin.yaml nests deeper than {MAX_DEPTH} levels") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PluginYamlError("", f"plugin.yaml is not valid YAML{where}: {problem}") from exc
    if not isinstance(raw, dict):
        raise PluginYamlError(
            "", "plugin.yaml must be a mapping with apiVersion, kind, metadata and spec"
        )
    try:
        meta = PluginMetadata.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation_error(exc) from exc
    _check_schema(meta.spec)
    return meta
