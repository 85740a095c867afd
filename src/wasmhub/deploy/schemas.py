"""Validation of rendered resources against the platforms' published schemas.

Kubernetes resources: the CRD's ``openAPIV3Schema`` (vendored in ``deploy/crds``, see its
README for provenance) through ``jsonschema``, made as strict as an API server with
``fieldValidation=Strict``: an object schema that lists ``properties`` and neither
``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields`` rejects unknown
keys. The CRD's CEL rules (``x-kubernetes-validations``) are evaluated with ``cel-python``;
rules that call Kubernetes' CEL library extensions (``isURL``, ``url``, ``duration``,
``quantity``, ``format``) are not evaluable there and are listed by
:func:`unchecked_rules` instead of being silently passed.

Envoy resources: parsed into the proto message with ``json_format.ParseDict`` and
``ignore_unknown_fields=False`` (xds-protos); every ``Any`` inside must name a type the
parser knows, which the imports below register.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import celpy
import envoy.extensions.filters.http.router.v3.router_pb2
import envoy.extensions.filters.http.wasm.v3.wasm_pb2 as http_wasm_pb2
import envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2
import envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2
import envoy.extensions.filters.network.wasm.v3.wasm_pb2 as network_wasm_pb2
import envoy.extensions.transport_sockets.tls.v3.tls_pb2
import envoy.extensions.upstreams.http.v3.http_protocol_options_pb2
import jsonschema
import yaml
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

# Registered for Any resolution in strict parsing (imported for their side effect).
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.core.v3 import extension_pb2
from envoy.extensions.wasm.v3 import wasm_pb2
from google.protobuf import json_format, message

from wasmhub.deploy.errors import SchemaViolation
from wasmhub.deploy.provider import RenderedResource, SchemaRef

_ = (envoy.extensions.filters.http.router.v3.router_pb2,
     envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2,
     envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2,
     envoy.extensions.transport_sockets.tls.v3.tls_pb2,
     envoy.extensions.upstreams.http.v3.http_protocol_options_pb2)

CRD_FILES = (
    "istio-wasmplugins-trafficextensions.yaml",
    "envoy-gateway-envoyextensionpolicies.yaml",
    "higress-wasmplugins.yaml",
    "wasmhub-plugindeployments.yaml",
)
ENVOY_MESSAGES: dict[str, type[message.Message]] = {
    "envoy.config.bootstrap.v3.Bootstrap": bootstrap_pb2.Bootstrap,
    "envoy.config.core.v3.TypedExtensionConfig": extension_pb2.TypedExtensionConfig,
    "envoy.extensions.filters.http.wasm.v3.Wasm": http_wasm_pb2.Wasm,
    "envoy.extensions.filters.network.wasm.v3.Wasm": network_wasm_pb2.Wasm,
    "envoy.extensions.wasm.v3.PluginConfig": wasm_pb2.PluginConfig,
}
_K8S_CEL_EXTENSIONS = ("isURL(", "url(", "duration(", "quantity(", "format.", "ip(", "cidr(")


@cache
def crds() -> dict[str, dict[str, Any]]:
    """``group/version/Kind`` → the CRD document, for every vendored CRD."""
    out: dict[str, dict[str, Any]] = {}
    folder = resources.files("wasmhub.deploy") / "crds"
    for name in CRD_FILES:
        for doc in yaml.safe_load_all((folder / name).read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                out[f"{spec['group']}/{version['name']}/{spec['names']['kind']}"] = doc
    return out


@cache
def _schema(key: str) -> dict[str, Any]:
    doc = crds().get(key)
    if doc is None:
        raise KeyError(f"no vendored CRD for {key}")
    group_version_kind = key.rsplit("/", 1)[0]
    version = group_version_kind.rsplit("/", 1)[1]
    for entry in doc["spec"]["versions"]:
        if entry["name"] == version:
            root = copy.deepcopy(entry["schema"]["openAPIV3Schema"])
            # The API server itself owns these; CRD schemas often leave them out.
            properties = root.setdefault("properties", {})
            properties.setdefault("apiVersion", {"type": "string"})
            properties.setdefault("kind", {"type": "string"})
            properties.setdefault("metadata", {"type": "object"})
            return _strict(root)
    raise KeyError(key)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return schema
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        schema["additionalProperties"] = False
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            _strict(sub)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            _strict(schema[key])
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            _strict(sub)
    return schema


def _rules(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, rule, value) for every CEL rule that applies to a present value."""
    for rule in schema.get("x-kubernetes-validations", ()):
        yield path, rule["rule"], value
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                yield from _rules(sub, item, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _rules(schema["items"], item, f"{path}[{index}]")


def _evaluable(rule: str) -> bool:
    return not any(token in rule for token in _K8S_CEL_EXTENSIONS)


@cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _cel_problems(schema: Mapping[str, Any], document: Any) -> list[str]:
    problems: list[str] = []
    for path, rule, value in _rules(schema, document, ""):
        if not _evaluable(rule):
            continue
        result = _program(rule).evaluate({"self": json_to_cel(value)})
        if isinstance(result, CELEvalError) or not bool(result):
            problems.append(f"{path.lstrip('.') or '<root>'}: violates rule {rule!r}")
    return problems


def unchecked_rules(document: Mapping[str, Any]) -> list[str]:
    """The CEL rules of ``document``'s CRD that use Kubernetes-only CEL functions."""
    return [rule for _, rule, _ in _rules(_raw_schema(_key(document)), document, "")
            if not _evaluable(rule)]


def _key(document: Mapping[str, Any]) -> str:
    return f"{document.get('apiVersion', '')}/{document.get('kind', '')}"


def crd_problems(document: Mapping[str, Any]) -> list[str]:
    """Every way ``document`` breaks its CRD's schema and CEL rules ([] when valid)."""
    key = _key(document)
    try:
        schema = _schema(key)
    except KeyError:
        return [f"no published schema for {key}"]
    validator = jsonschema.Draft7Validator(schema)
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    ]
    if not problems:
        problems = _cel_problems(_raw_schema(key), document)
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        problems.append("metadata.name: required")
    return problems


@cache
def _raw_schema(key: str) -> dict[str, Any]:
    version = key.split("/")[1]
    for entry in crds()[key]["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(key)


def envoy_problems(type_name: str, document: Mapping[str, Any]) -> list[str]:
    """Strict proto parse of ``document`` as ``type_name`` ([] when it parses)."""
    cls = ENVOY_MESSAGES[type_name]
    try:
        json_format.ParseDict(dict(document), cls(), ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        return [str(exc)]
    return []


def problems(resource: RenderedResource) -> list[str]:
    ref: SchemaRef = resource.schema
    if ref.kind == "crd":
        return crd_problems(resource.document)
    if ref.kind == "envoy":
        return envoy_problems(ref.name, resource.document)
    if ref.kind == "consul":
        return consul_problems(resource.document)
    return []


def consul_problems(document: Mapping[str, Any]) -> list[str]:
    """ServiceDefaults: shape, then each builtin/wasm extension as Envoy would get it."""
    from wasmhub.deploy.consul import envoy_equivalent
    from wasmhub.deploy.errors import SpecError

    found: list[str] = []
    if not (document.get("metadata") or {}).get("name"):
        found.append("metadata.name: required")
    spec = document.get("spec")
    if not isinstance(spec, dict):
        return [*found, "spec: required object"]
    for index, ext in enumerate(spec.get("envoyExtensions") or []):
        where = f"spec.envoyExtensions[{index}]"
        unknown = sorted(set(ext) - {"name", "required", "arguments", "consulVersion",
                                     "envoyVersion"})
        if unknown:
            found.append(f"{where}: unknown key(s) {', '.join(unknown)}")
        if ext.get("name") != "builtin/wasm":
            continue
        try:
            plugin = envoy_equivalent(ext.get("arguments") or {})
        except SpecError as exc:
            found.append(f"{where}.{exc.message}")
            continue
        found += [f"{where}.arguments: {p}"
                  for p in envoy_problems("envoy.extensions.wasm.v3.PluginConfig", plugin)]
    return found


def validate(resource: RenderedResource) -> None:
    """Raise :class:`SchemaViolation` when ``resource`` breaks its schema."""
    found = problems(resource)
    if found:
        raise SchemaViolation(resource.label, found)
