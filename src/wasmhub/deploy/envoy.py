"""Plain Envoy: a full ``Bootstrap`` with the wasm filter, and an ECDS resource.

The filter's code is *remote*: ``vm_config.code.remote`` = the hub's
``/modules/sha256:<hex>.wasm`` URL over a ``wasmhub`` cluster, and ``sha256`` = the
module's own digest, which Envoy verifies before it compiles the module. An HTTP plugin
sits in an HTTP connection manager before ``envoy.filters.http.router``; a network plugin
in the listener's filter chain before ``envoy.filters.network.tcp_proxy``. Several
deployments can share one bootstrap (:meth:`EnvoyProvider.render_bootstrap`): filters
are ordered by phase, then priority (higher first), as Istio would order them.

The second resource is the same filter as an ECDS ``TypedExtensionConfig`` (named after
the filter) for a control plane or a file-based ``config_discovery`` source.

:meth:`EnvoyProvider.render_fleet_bootstrap` (``wasmhub deploy envoy REF --xds``) renders a
bootstrap for a fleet instead: the filter is a ``config_discovery`` entry named
``wasmhub/<namespace>/<name>`` whose source is the hub's ECDS server (a gRPC cluster over
HTTP/2; delta, state-of-the-world or ADS), with the current revision as its
``default_config`` and ``apply_default_config_without_warming``, so a new proxy serves at
once and takes whatever the hub pushes next (docs/deploy.md "Envoy fleets (ECDS)").

Output uses Envoy's JSON names (proto field names in snake_case) and parses strictly with
xds-protos (``wasmhub.deploy.schemas``); the end-to-end test runs it in a real Envoy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from wasmhub.deploy.common import (
    config_text,
    order_key,
    refuse,
    require_http_source,
    require_resolved,
)
from wasmhub.deploy.errors import ClusterError, SpecError
from wasmhub.deploy.provider import Installation, RenderedResource, Rendering, SchemaRef
from wasmhub.deploy.spec import Deployment, FailStrategy, Platform, PluginType

HTTP_WASM = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NETWORK_WASM = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
HCM = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
       ".HttpConnectionManager")
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
TLS = ("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
HUB_CLUSTER = "wasmhub"
XDS_CLUSTER = "wasmhub_xds"
HTTP_PROTOCOL_OPTIONS = ("type.googleapis.com/envoy.extensions.upstreams.http.v3"
                         ".HttpProtocolOptions")
XDS_MODES = ("delta", "sotw", "ads", "ads-delta")
ECDS_PREFIX = "wasmhub"


def ecds_resource_name(namespace: str, name: str) -> str:
    """The ECDS resource (and HTTP filter) name of a fleet deployment."""
    return f"{ECDS_PREFIX}/{namespace}/{name}"
UPSTREAM_CLUSTER = "upstream"
FETCH_TIMEOUT = "60s"
_FAILURE = {FailStrategy.FAIL_CLOSED: "FAIL_CLOSED", FailStrategy.FAIL_OPEN: "FAIL_OPEN",
            FailStrategy.RELOAD: "FAIL_RELOAD"}


def plugin_config(deployment: Deployment, *, nack_on_cache_miss: bool = False
                  ) -> dict[str, Any]:
    """``envoy.extensions.wasm.v3.PluginConfig`` with remote code from the hub.

    ``nack_on_cache_miss`` (ECDS pushes): Envoy refuses (NACKs) a config whose module it
    has not fetched yet and fetches it in the background, so the next push of the same
    config is loaded synchronously and its ACK or NACK says whether the module runs."""
    d = deployment
    vm: dict[str, Any] = {
        "vm_id": d.filter_name,
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"remote": {
            "http_uri": {"uri": d.plugin.module_url, "cluster": HUB_CLUSTER,
                         "timeout": FETCH_TIMEOUT},
            "sha256": d.plugin.module_sha256,
            "retry_policy": {"num_retries": 5},
        }},
    }
    if nack_on_cache_miss:
        vm["nack_on_code_cache_miss"] = True
    host_keys = [e.name for e in d.vm_env if e.from_host]
    inline = {e.name: e.value for e in d.vm_env if not e.from_host}
    if host_keys or inline:
        env: dict[str, Any] = {}
        if host_keys:
            env["host_env_keys"] = host_keys
        if inline:
            env["key_values"] = inline
        vm["environment_variables"] = env
    out: dict[str, Any] = {"name": d.filter_name}
    if d.root_id:
        out["root_id"] = d.root_id
    out["vm_config"] = vm
    text = config_text(d)
    if text:
        out["configuration"] = {"@type": STRING_VALUE, "value": text}
    out["failure_policy"] = _FAILURE[d.fail_strategy]
    return out


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _cluster(name: str, host: str, port: int, tls_sni: str | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "5s",
        "load_assignment": {"cluster_name": name, "endpoints": [
            {"lb_endpoints": [{"endpoint": {"address": _address(host, port)}}]}]},
    }
    if tls_sni is not None:
        cluster["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": TLS, "sni": tls_sni}}
    return cluster


def hub_cluster(hub_url: str) -> dict[str, Any]:
    parts = urlsplit(hub_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError("plugin.hubUrl", f"{hub_url!r} is not an http(s) URL")
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    return _cluster(HUB_CLUSTER, parts.hostname, port, parts.hostname if https else None)


def _http_filter(deployment: Deployment) -> dict[str, Any]:
    return {"name": deployment.filter_name,
            "typed_config": {"@type": HTTP_WASM, "config": plugin_config(deployment)}}


class EnvoyProvider:
    platform = Platform.ENVOY
    title = "Envoy"

    def render(self, deployment: Deployment) -> Rendering:
        return self.render_bootstrap([deployment])

    def render_bootstrap(self, deployments: Sequence[Deployment]) -> Rendering:
        if not deployments:
            raise SpecError("plugins", "no deployment to render")
        for d in deployments:
            require_resolved(d)
            require_http_source(self.title, d)
            refuse(self.title, d, "targets.selector", "targets.targetRefs", "targets.services",
                   "targets.ingresses", "targets.domains", "targets.gateways", "match",
                   "pullSecret", "pullPolicy")
        kinds = {d.plugin_type for d in deployments}
        if len(kinds) > 1:
            raise SpecError("pluginType", "one bootstrap holds HTTP or network filters, not both")
        ordered = sorted(deployments, key=order_key)
        first = ordered[0]
        listener = first.targets.envoy
        if first.plugin_type is PluginType.HTTP:
            chain = [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": HCM,
                "stat_prefix": "ingress_http",
                "route_config": {"name": "local", "virtual_hosts": [{
                    "name": "all", "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"},
                                "route": {"cluster": UPSTREAM_CLUSTER}}]}]},
                "http_filters": [*(_http_filter(d) for d in ordered),
                                 {"name": "envoy.filters.http.router",
                                  "typed_config": {"@type": ROUTER}}],
            }}]
        else:
            chain = [*({"name": d.filter_name, "typed_config": {
                "@type": NETWORK_WASM, "config": plugin_config(d)}} for d in ordered),
                {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                    "@type": TCP_PROXY, "stat_prefix": "tcp", "cluster": UPSTREAM_CLUSTER}}]
        bootstrap = {
            "node": {"id": f"wasmhub-{first.name}", "cluster": "wasmhub"},
            "admin": {"address": _address(listener.admin_address, listener.admin_port)},
            "static_resources": {
                "listeners": [{"name": "wasmhub", "address": _address(
                    listener.listen_address, listener.listen_port),
                    "filter_chains": [{"filters": chain}]}],
                "clusters": [_cluster(UPSTREAM_CLUSTER, listener.upstream_address,
                                      listener.upstream_port),
                             hub_cluster(first.plugin.hub_url)],
            },
        }
        resources = [RenderedResource(bootstrap, SchemaRef(
            "envoy", "envoy.config.bootstrap.v3.Bootstrap"), "envoy-bootstrap.yaml")]
        for d in ordered:
            wasm_type = HTTP_WASM if d.plugin_type is PluginType.HTTP else NETWORK_WASM
            ecds = {"name": d.filter_name,
                    "typed_config": {"@type": wasm_type, "config": plugin_config(d)}}
            resources.append(RenderedResource(ecds, SchemaRef(
                "envoy", "envoy.config.core.v3.TypedExtensionConfig"),
                f"ecds-{d.filter_name}.yaml"))
        notes = ("run: envoy -c envoy-bootstrap.yaml (the ecds-*.yaml files are the same "
                 "filters as ECDS TypedExtensionConfig resources)",)
        return Rendering(first, tuple(resources), (), notes)

    def render_fleet_bootstrap(self, deployment: Deployment, xds_address: str,
                               mode: str = "delta") -> Rendering:
        """A bootstrap whose wasm filter comes from the hub's ECDS server at
        ``xds_address`` (HOST:PORT), with ``deployment`` as the default config."""
        d = deployment
        require_resolved(d)
        require_http_source(self.title, d)
        if d.plugin_type is not PluginType.HTTP:
            raise SpecError("pluginType", "fleets (ECDS) serve HTTP filters")
        if mode not in XDS_MODES:
            raise SpecError("xds", f"{mode!r}: choose one of {', '.join(XDS_MODES)}")
        host, _, port = xds_address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SpecError("xds", f"{xds_address!r}: expected HOST:PORT of the hub's xDS port")
        refuse(self.title, d, "targets.selector", "targets.targetRefs", "targets.services",
               "targets.ingresses", "targets.domains", "targets.gateways", "match",
               "pullSecret", "pullPolicy")
        grpc_source = {"transport_api_version": "V3",
                       "api_type": "DELTA_GRPC" if mode.endswith("delta") else "GRPC",
                       "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}]}
        source: dict[str, Any] = {"resource_api_version": "V3",
                                  "initial_fetch_timeout": "15s"}
        if mode.startswith("ads"):
            source["ads"] = {}
        else:
            source["api_config_source"] = grpc_source
        resource = ecds_resource_name(d.namespace, d.name)
        listener = d.targets.envoy
        xds_cluster = _cluster(XDS_CLUSTER, host.strip("[]"), int(port))
        xds_cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_PROTOCOL_OPTIONS,
                "explicit_http_config": {"http2_protocol_options": {}}}}
        hcm = {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": HCM,
            "stat_prefix": "ingress_http",
            "route_config": {"name": "local", "virtual_hosts": [{
                "name": "all", "domains": ["*"],
                "routes": [{"match": {"prefix": "/"},
                            "route": {"cluster": UPSTREAM_CLUSTER}}]}]},
            "http_filters": [
                {"name": resource, "config_discovery": {
                    "config_source": source,
                    "default_config": {"@type": HTTP_WASM, "config": plugin_config(d)},
                    "apply_default_config_without_warming": True,
                    "type_urls": [HTTP_WASM]}},
                {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
        }}
        bootstrap: dict[str, Any] = {
            "node": {"id": f"wasmhub-{d.name}", "cluster": "wasmhub"},
            "admin": {"address": _address(listener.admin_address, listener.admin_port)},
            "static_resources": {
                "listeners": [{"name": "wasmhub", "address": _address(
                    listener.listen_address, listener.listen_port),
                    "filter_chains": [{"filters": [hcm]}]}],
                "clusters": [_cluster(UPSTREAM_CLUSTER, listener.upstream_address,
                                      listener.upstream_port),
                             hub_cluster(d.plugin.hub_url), xds_cluster],
            },
        }
        if mode.startswith("ads"):
            bootstrap["dynamic_resources"] = {"ads_config": grpc_source}
        resources = (RenderedResource(bootstrap, SchemaRef(
            "envoy", "envoy.config.bootstrap.v3.Bootstrap"), "envoy-bootstrap.yaml"),)
        notes = (f"run: envoy -c envoy-bootstrap.yaml --service-node NODE_ID (one id per "
                 f"proxy); its filter {resource} follows the hub's ECDS server at "
                 f"{xds_address}",)
        return Rendering(d, resources, (), notes)

    def apply(self, rendering: Rendering, cluster: Any, *, dry_run: bool = False
              ) -> list[str]:
        raise ClusterError("plain Envoy has no API to apply to: write the files with "
                           "`wasmhub deploy envoy REF -o DIR` and start envoy -c on them")

    def remove(self, name: str, namespace: str, cluster: Any, *, dry_run: bool = False
               ) -> list[str]:
        raise ClusterError("plain Envoy has no API: remove the filter from your bootstrap")

    def status(self, cluster: Any, namespace: str | None) -> list[Installation]:
        return []
