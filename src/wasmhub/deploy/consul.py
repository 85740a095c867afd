"""Consul: ``ServiceDefaults`` (consul.hashicorp.com/v1alpha1) with the ``builtin/wasm``
Envoy extension.

One resource per target service (``metadata.name`` = the service). Consul has no OCI
support: code is ``Remote`` with ``HttpURI`` = the hub's ``/modules/`` URL and
``SHA256`` = the module's digest; Consul requires that URL's host to be an *upstream* of
the proxy, named by ``HttpURI.Service`` (``moduleService``, default ``wasmhub``).
``Required`` is the fail strategy (``failOpen = !Required``). Consul applies only inbound
HTTP extensions, so a network plugin or a CLIENT-only match is refused.

No Consul CRD schema is vendored. The extension's arguments are checked the way Consul
uses them: :func:`envoy_equivalent` maps them to Envoy's ``PluginConfig`` (the mapping
Consul's ``builtin/wasm`` performs) and the result is parsed strictly with xds-protos;
unknown or misspelt argument keys are refused by that mapping.
"""

from __future__ import annotations

from typing import Any

from wasmhub.deploy.common import (
    config_text,
    metadata,
    refuse,
    require_http_source,
    require_resolved,
)
from wasmhub.deploy.envoy import STRING_VALUE
from wasmhub.deploy.errors import SpecError, UnsupportedOnPlatform
from wasmhub.deploy.kube import KubernetesProvider, ResourceType
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import Deployment, FailStrategy, Platform, TrafficMode

GROUP_VERSION = "consul.hashicorp.com/v1alpha1"
KIND = "ServiceDefaults"


def arguments(d: Deployment) -> dict[str, Any]:
    vm: dict[str, Any] = {
        "vmID": d.filter_name,
        "runtime": "v8",
        "code": {"remote": {
            "httpURI": {"service": {"name": d.module_service}, "uri": d.plugin.module_url,
                        "timeout": "30s"},
            "sha256": d.plugin.module_sha256,
        }},
    }
    host_keys = [e.name for e in d.vm_env if e.from_host]
    inline = {e.name: e.value for e in d.vm_env if not e.from_host}
    if host_keys or inline:
        vm["environmentVariables"] = {
            **({"hostEnvKeys": host_keys} if host_keys else {}),
            **({"keyValues": inline} if inline else {}),
        }
    plugin: dict[str, Any] = {"name": d.filter_name}
    if d.root_id:
        plugin["rootID"] = d.root_id
    plugin["vmConfig"] = vm
    text = config_text(d)
    if text:
        plugin["configuration"] = text
    return {"protocol": "http", "listenerType": "inbound", "pluginConfig": plugin}


_PLUGIN_KEYS = {"name": "name", "rootID": "root_id", "vmConfig": "vm_config",
                "configuration": "configuration"}
_VM_KEYS = {"vmID", "runtime", "code", "environmentVariables", "configuration"}


def _known(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise SpecError(where, f"unknown key(s) {', '.join(unknown)}")


def envoy_equivalent(args: dict[str, Any]) -> dict[str, Any]:
    """The Envoy ``PluginConfig`` Consul builds from ``builtin/wasm`` arguments."""
    _known(args, {"protocol", "listenerType", "proxyType", "pluginConfig"}, "arguments")
    if args.get("protocol") not in ("http", "tcp"):
        raise SpecError("arguments.protocol", "must be http or tcp")
    if args.get("listenerType") not in ("inbound", "outbound"):
        raise SpecError("arguments.listenerType", "must be inbound or outbound")
    plugin = args.get("pluginConfig") or {}
    _known(plugin, set(_PLUGIN_KEYS), "arguments.pluginConfig")
    vm = plugin.get("vmConfig") or {}
    _known(vm, _VM_KEYS, "arguments.pluginConfig.vmConfig")
    code = vm.get("code") or {}
    _known(code, {"local", "remote"}, "arguments.pluginConfig.vmConfig.code")
    if len(code) != 1:
        raise SpecError("arguments.pluginConfig.vmConfig.code", "exactly one of local/remote")
    envoy_code: dict[str, Any]
    if "remote" in code:
        remote = code["remote"]
        _known(remote, {"httpURI", "sha256", "retryPolicy"}, "code.remote")
        uri = remote.get("httpURI") or {}
        _known(uri, {"service", "uri", "timeout"}, "code.remote.httpURI")
        envoy_code = {"remote": {"http_uri": {"uri": uri.get("uri", ""),
                                              "cluster": (uri.get("service") or {}).get("name", ""),
                                              "timeout": uri.get("timeout", "1s")},
                                 "sha256": remote.get("sha256", "")}}
    else:
        envoy_code = {"local": {"filename": (code["local"] or {}).get("filename", "")}}
    runtime = vm.get("runtime", "v8")
    if runtime not in ("v8", "wamr", "wasmtime"):
        # Consul also accepts "wavm", which Envoy removed in 2024: refuse it too.
        raise SpecError("arguments.pluginConfig.vmConfig.runtime",
                        f"{runtime!r}: Envoy runs v8, wamr or wasmtime")
    envoy_vm: dict[str, Any] = {"vm_id": vm.get("vmID", ""),
                                "runtime": f"envoy.wasm.runtime.{runtime}",
                                "code": envoy_code}
    env = vm.get("environmentVariables")
    if env:
        _known(env, {"hostEnvKeys", "keyValues"}, "vmConfig.environmentVariables")
        envoy_vm["environment_variables"] = {"host_env_keys": env.get("hostEnvKeys", []),
                                             "key_values": env.get("keyValues", {})}
    out: dict[str, Any] = {"name": plugin.get("name", ""), "root_id": plugin.get("rootID", ""),
                           "vm_config": envoy_vm}
    if plugin.get("configuration"):
        out["configuration"] = {"@type": STRING_VALUE, "value": plugin["configuration"]}
    return out


class ConsulProvider(KubernetesProvider):
    platform = Platform.CONSUL
    title = "Consul"
    resource_types = (ResourceType(GROUP_VERSION, KIND, "servicedefaults"),)

    def render(self, deployment: Deployment) -> Rendering:
        d = deployment
        require_resolved(d)
        require_http_source(self.title, d)
        refuse(self.title, d, "targets.selector", "targets.targetRefs", "targets.ingresses",
               "targets.domains", "targets.gateways", "failStrategy", "pullSecret",
               "pullPolicy")
        if d.plugin_type.value != "http":
            raise UnsupportedOnPlatform(self.title, "pluginType",
                                        "Consul validates tcp but patches only HTTP listeners")
        if any(m.mode is TrafficMode.CLIENT or m.ports for m in d.match):
            raise UnsupportedOnPlatform(self.title, "match",
                                        "Consul applies wasm to inbound listeners only, no ports")
        if not d.targets.services:
            raise SpecError("targets.services", "Consul configures a service: give "
                            "--service NAME (its service-defaults entry gets the extension)")
        extension = {"name": "builtin/wasm",
                     "required": d.fail_strategy is FailStrategy.FAIL_CLOSED,
                     "arguments": arguments(d)}
        resources = tuple(
            RenderedResource(
                {"apiVersion": GROUP_VERSION, "kind": KIND,
                 "metadata": metadata(d, name=service),
                 "spec": {"protocol": "http", "envoyExtensions": [extension]}},
                SchemaRef("consul", "builtin/wasm"),
                f"servicedefaults-{service}.yaml",
            )
            for service in d.targets.services
        )
        warnings = (f"Consul fetches remote code only from an upstream: make "
                    f"'{d.module_service}' (the hub) an upstream of the target services",)
        return Rendering(d, resources, warnings)

    def describe(self, obj: dict[str, Any]) -> Installation:
        meta = obj.get("metadata") or {}
        ext: dict[str, Any] = next((e for e in (obj.get("spec") or {}).get("envoyExtensions") or []
                    if e.get("name") == "builtin/wasm"), {})
        remote = (((ext.get("arguments") or {}).get("pluginConfig") or {}).get("vmConfig")
                  or {}).get("code", {}).get("remote") or {}
        return Installation(
            platform=self.title, kind=KIND, namespace=meta.get("namespace", ""),
            name=meta.get("name", ""), plugin=str((remote.get("httpURI") or {}).get("uri", "")),
            digest=str(remote.get("sha256", "")), phase="", priority=None,
            targets=(f"service {meta.get('name', '')}",),
        )
