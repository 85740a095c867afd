"""One scenario, two hosts: a plugin run in a real Envoy and in the local runtime, with
what each observed put side by side (the fidelity suite, ``wasmhub test --envoy``).

A :class:`Scenario` is a module, its configuration and a list of requests (or, for a
network filter, of connections). :func:`observe_envoy` and :func:`observe_local` return
an :class:`Observation` each: whether the plugin loaded (and else at which stage and why,
with the plugin's own log lines), then per exchange the status, response headers and body,
what the upstream received and the plugin's log lines. :func:`compare` lists differences.

Normalisations (the only ones; each is something a proxy adds by itself):
- response headers ``date`` and ``server`` are dropped (Envoy sets both on every response);
- headers named ``x-envoy-*`` are dropped (Envoy's own; the router is told not to add its
  timing headers, see :mod:`wasmhub.runtime.envoy`);
- an ``x-request-id`` UUID (Envoy generates one per request, and so does the local host)
  is replaced by ``<request-id>`` wherever it appears: headers, bodies, log lines;
- plugin log lines written from ``proxy_on_tick`` are set aside (timers follow the clock,
  which differs between a proxy and a test run) and compared separately, never counted;
- the value of ``x-envoy-upstream-service-time`` (a timing Envoy's router adds to
  callout answers) is replaced by ``<ms>`` in log lines.

The local run sees the same clock as Envoy did: its virtual clock starts when Envoy
started and shows each request at the moment it was sent to Envoy.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wasmhub.errors import WasmhubError
from wasmhub.runtime.envoy import (
    EnvoyFilter,
    EnvoyHost,
    EnvoyLogEntry,
    EnvoyRefused,
    parse_log,
)
from wasmhub.runtime.model import (
    Clock,
    HostConfig,
    HttpCallAnswer,
    HttpRequest,
    LogEntry,
    UpstreamResponse,
)
from wasmhub.runtime.plugin import Plugin
from wasmhub.runtime.recorder import RecordingUpstream, raw_response, send

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DROPPED_RESPONSE_HEADERS = ("date", "server", "connection")
STALL_SECONDS = 8.0  # no response by then: the request is stalled (the filter paused it)
_END_CALLBACKS = ("proxy_on_delete", "proxy_on_log", "proxy_on_done")


@dataclass
class Scenario:
    module: Path
    config: HostConfig = field(default_factory=HostConfig)
    requests: list[HttpRequest] = field(default_factory=list)
    upstream: UpstreamResponse = field(default_factory=lambda: UpstreamResponse(
        200, [("content-type", "text/plain")], b"upstream says hello\n"))
    kind: str = ""  # http | network; "" = from the module's exports
    runtime: str = "v8"
    # The upstream's answer per request (by position; missing: ``upstream``).
    responses: list[UpstreamResponse] = field(default_factory=list)
    # Clusters the plugin calls out to (proxy_http_call) and what each answers. In Envoy
    # each is a cluster on a recording server; locally a declared http_calls answer.
    callouts: dict[str, UpstreamResponse] = field(default_factory=dict)

    def response(self, index: int) -> UpstreamResponse:
        return self.responses[index] if index < len(self.responses) else self.upstream

    def local_config(self) -> HostConfig:
        """The host configuration for the local side: the scenario's, on the real clock
        (as a proxy runs), with the callouts declared as the recording servers answer."""
        answers = [HttpCallAnswer(name, answer.status, _wire_headers(answer),
                                  b"".join(answer.chunks()))
                   for name, answer in sorted(self.callouts.items())]
        return replace(self.config, clock=Clock.REAL,
                       http_calls=[*self.config.http_calls, *answers])

    def filter_kind(self) -> str:
        if self.kind:
            return self.kind
        from wasmhub.runtime.engine import compile_module

        names = {export.name for export in compile_module(self.module.read_bytes()).exports}
        stream = {"proxy_on_request_headers", "proxy_on_response_headers",
                  "proxy_on_request_body", "proxy_on_response_body"}
        network = {"proxy_on_downstream_data", "proxy_on_new_connection"}
        return "network" if names & network and not names & stream else "http"


@dataclass
class Exchange:
    status: int | None
    headers: list[tuple[str, str]]
    body: str
    upstream: dict[str, Any] | None  # method, path, headers, body as the upstream got them
    logs: list[str]
    host_calls: list[str] = field(default_factory=list)  # "name -> result" (not compared)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "headers": [list(p) for p in self.headers],
                "body": self.body, "upstream": self.upstream, "logs": self.logs,
                "host_calls": self.host_calls}


@dataclass
class Observation:
    host: str
    loaded: bool
    stage: str = ""
    reason: str = ""
    startup_logs: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    tick_logs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started_ns: int = 0  # wall clock when the host was started
    request_ns: list[int] = field(default_factory=list)  # wall clock at each request

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "loaded": self.loaded, "stage": self.stage,
                "reason": self.reason, "startup_logs": self.startup_logs,
                "exchanges": [e.to_json() for e in self.exchanges],
                "tick_logs": self.tick_logs, "seconds": round(self.seconds, 3)}


def _wire_headers(response: UpstreamResponse) -> list[tuple[str, str]]:
    """The headers a recording server sends for ``response`` (content-length added)."""
    body = b"".join(response.chunks())
    pairs = [(k, v) for k, v in response.headers
             if k.lower() not in ("content-length", "transfer-encoding")]
    return [*pairs, ("content-length", str(len(body)))]


_SERVICE_TIME = re.compile(r"(x-envoy-upstream-service-time\W+)\d+")


def normalise(text: str) -> str:
    return _SERVICE_TIME.sub(r"\1<ms>", UUID.sub("<request-id>", text))


def _headers(pairs: list[tuple[str, str]], *, response: bool) -> list[tuple[str, str]]:
    kept = []
    for name, value in pairs:
        key = name.lower()
        if key.startswith("x-envoy-") or (response and key in DROPPED_RESPONSE_HEADERS):
            continue
        kept.append((key, normalise(value)))
    return kept


def _log_line(level: int, message: str) -> str:
    names = ("trace", "debug", "info", "warn", "error", "critical")
    return f"{names[level] if 0 <= level < len(names) else level}: {normalise(message)}"


# -- Envoy ------------------------------------------------------------------------------


def _envoy_filter(scenario: Scenario, kind: str) -> EnvoyFilter:
    config = scenario.config
    return EnvoyFilter(
        scenario.module, kind, config.plugin_config, config.vm_config, dict(config.vm_env),
        config.root_id, config.vm_id or "wasmhub", config.plugin_name,
        config.fail_strategy.value == "fail_open", scenario.runtime)


def _plugin_lines(entries: list[EnvoyLogEntry]) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    ticks: list[str] = []
    for entry in entries:
        text = entry.plugin_message
        if text is None:
            continue
        target = ticks if entry.callback == "proxy_on_tick" else lines
        target.append(_log_line(entry.level, text))
    return lines, ticks


def _startup_segment(entries: list[EnvoyLogEntry]) -> list[EnvoyLogEntry]:
    """The first thread-local VM's start-up (Envoy starts a base VM, then a canary copy
    that runs ``_start``, ``proxy_on_vm_start`` and ``proxy_on_configure``, then one per
    thread: the same lines several times; the local host starts one VM)."""
    start = next((i for i, e in enumerate(entries)
                  if e.logger == "wasm" and e.message.startswith("Thread-Local Wasm created")),
                 None)
    if start is None:
        return entries
    end = next((i for i in range(start + 1, len(entries))
                if entries[i].logger == "wasm" and ("Wasm created" in entries[i].message
                                                    or entries[i].message.startswith("~Wasm"))),
               len(entries))
    return entries[start:end]


def observe_envoy(scenario: Scenario, *, ready_timeout: float = 240.0) -> Observation:
    kind = scenario.filter_kind()
    started = time.monotonic()
    started_ns = time.time_ns()
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(RecordingUpstream(scenario.upstream))
        clusters = {name: stack.enter_context(RecordingUpstream(answer)).port
                    for name, answer in scenario.callouts.items()}
        try:
            host = stack.enter_context(EnvoyHost(
                _envoy_filter(scenario, kind), upstream.port, clusters,
                ready_timeout=ready_timeout))
        except EnvoyRefused as exc:
            return Observation("envoy", False, exc.stage, str(exc),
                               [_log_line(level, line) for level, line in exc.plugin_logs],
                               seconds=time.monotonic() - started)
        observation = Observation("envoy", True, started_ns=started_ns)
        boot = len(host.log())
        for index, request in enumerate(scenario.requests):
            upstream.response = scenario.response(index)
            observation.exchanges.append(_envoy_exchange(host, upstream, kind, request,
                                                         observation))
        entries = host.log()
        startup, ticks = _plugin_lines(_startup_segment(entries[:boot]))
        observation.startup_logs = startup
        observation.tick_logs = ticks + observation.tick_logs
        failed = [e for e in entries if e.logger == "wasm" and e.level >= 4
                  and e.plugin_message is None]
        if failed:
            observation.reason = "; ".join(dict.fromkeys(e.message for e in failed))[:500]
    observation.seconds = time.monotonic() - started
    return observation


def _envoy_exchange(host: EnvoyHost, upstream: RecordingUpstream, kind: str,
                    request: HttpRequest, observation: Observation) -> Exchange:
    before = host.log_text()
    count = sum(before.count(f"[host<-vm] {name} return") for name in _END_CALLBACKS)
    observation.request_ns.append(time.time_ns())
    if kind == "network":
        status, headers, body = _tcp_exchange(host.port, request)
    else:
        reply = send(host.port, request, timeout=STALL_SECONDS)
        status, headers, body = reply.status, reply.headers, reply.body
    _wait_for_end(host, count, _END_CALLBACKS)
    received = upstream.take()
    up = None
    if received:
        got = received[0]
        up = {"method": got.method, "path": got.path,
              "headers": _headers(got.headers, response=False),
              "body": normalise(got.body.decode("utf-8", "replace"))}
    new = parse_log(host.log_text()[len(before):])
    lines, ticks = _plugin_lines(new)
    observation.tick_logs += ticks
    return Exchange(status, _headers(headers, response=True),
                    normalise(body.decode("utf-8", "replace")), up, lines, _envoy_calls(new))


_RETURN = re.compile(r"^\[vm<-host\] (\w+\.\w+) return: (\S+)")


def _envoy_calls(entries: list[EnvoyLogEntry]) -> list[str]:
    calls = []
    for entry in entries:
        found = _RETURN.match(entry.message) if entry.logger == "wasm" else None
        if found and entry.callback != "proxy_on_tick":
            calls.append(f"{found.group(1)} -> {found.group(2)}")
    return calls


def _wait_for_end(host: EnvoyHost, count: int, ends: tuple[str, ...]) -> None:
    """Until the stream's last callback ran (its log lines are written), at most 3 s: a
    failed plugin gets no callbacks at all."""
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        text = host.log_text()
        if sum(text.count(f"[host<-vm] {name} return") for name in ends) > count:
            return
        time.sleep(0.02)


def _tcp_exchange(port: int, request: HttpRequest) -> tuple[int | None, list[tuple[str, str]],
                                                            bytes]:
    """A network filter: the request's bytes over TCP, everything read until close."""
    data = _raw_request(request)
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return _parse_raw(received)


def _raw_request(request: HttpRequest) -> bytes:
    names = {key.lower() for key, _ in request.headers}
    lines = [f"{request.method} {request.path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"host: {request.authority}")
    body = b"".join(request.chunks())
    lines += [f"{key}: {value}" for key, value in request.headers]
    if body and "content-length" not in names:
        lines.append(f"content-length: {len(body)}")
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse_raw(data: bytes) -> tuple[int | None, list[tuple[str, str]], bytes]:
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return None, [], data
    first, *rest = head.decode("latin-1").split("\r\n")
    parts = first.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (r.partition(":") for r in rest)]
    return status, headers, body


# -- the local runtime ------------------------------------------------------------------


def _local_lines(entries: list[LogEntry]) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    ticks: list[str] = []
    for entry in entries:
        if entry.source == "host":
            continue
        target = ticks if entry.callback == "proxy_on_tick" else lines
        target.append(_log_line(int(entry.level), entry.message))
    return lines, ticks


def observe_local(scenario: Scenario, replay: Observation | None = None) -> Observation:
    """The scenario in the local runtime. With ``replay`` (Envoy's observation), the
    plugin's clock shows the moments Envoy saw: started when Envoy was, each request at
    the wall-clock time it was sent to Envoy (a virtual clock moved to those instants,
    firing due ticks on the way); without, the real clock."""
    started = time.monotonic()
    kind = scenario.filter_kind()
    config = scenario.local_config()
    times: list[int] = []
    if replay is not None and replay.started_ns:
        times = replay.request_ns
        config = replace(config, clock=Clock.VIRTUAL, start_time_ns=replay.started_ns)
    try:
        plugin = Plugin(scenario.module, config)
    except WasmhubError as exc:
        logs = getattr(exc, "plugin_logs", [])
        stage = getattr(exc, "stage", "load")
        return Observation("local", False, stage, exc.message,
                           [_log_line(int(e.level), e.message) for e in logs
                            if e.source != "host"], seconds=time.monotonic() - started)
    observation = Observation("local", True)
    startup, ticks = _local_lines(plugin.logs)
    observation.startup_logs, observation.tick_logs = startup, ticks
    for index, request in enumerate(scenario.requests):
        answer = scenario.response(index)
        if index < len(times) and times[index] > plugin.now_ns:
            plugin.advance((times[index] - plugin.now_ns) // 1_000_000)
        if kind == "network":
            mark = len(plugin.logs)
            connection = plugin.connection()
            connection.downstream(_raw_request(request), True)
            # what the upstream received is what reached it; it answers as it did in Envoy
            sent = connection.result.to_upstream
            if sent:
                connection.upstream(raw_response(answer), True)
            closed = connection.close()
            status, headers, body = _parse_raw(closed.to_downstream)
            lines, ticks = _local_lines(plugin.logs[mark:])
            up = _upstream_from_raw(sent)
            observation.tick_logs += ticks
            observation.exchanges.append(Exchange(
                status, _headers(headers, response=True),
                normalise(body.decode("utf-8", "replace")), up, lines))
            continue
        trace: list[tuple[str, int | None]] = []
        plugin.vm.host.trace = trace
        result = plugin.http(request, answer)
        plugin.vm.host.trace = None
        up = None
        if result.upstream_request is not None:
            pseudo = dict(p for p in result.upstream_request.headers if p[0].startswith(":"))
            headers = [("host", pseudo.get(":authority", ""))] + [
                p for p in result.upstream_request.headers if not p[0].startswith(":")]
            up = {"method": pseudo.get(":method", ""), "path": pseudo.get(":path", ""),
                  "headers": _headers(headers, response=False),
                  "body": normalise(result.upstream_request.body.decode("utf-8", "replace"))}
        lines, ticks = _local_lines(result.logs)
        observation.tick_logs += ticks
        observation.exchanges.append(Exchange(
            result.status, _headers(result.headers, response=True),
            normalise(result.body.decode("utf-8", "replace")), up, lines,
            [f"{name} -> {'void' if value is None else value}" for name, value in trace]))
    observation.seconds = time.monotonic() - started
    return observation


def _upstream_from_raw(data: bytes) -> dict[str, Any] | None:
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    first, *rest = head.decode("latin-1").split("\r\n")
    method, _, tail = first.partition(" ")
    path = tail.rsplit(" ", 1)[0]
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (r.partition(":") for r in rest)]
    return {"method": method, "path": path, "headers": _headers(headers, response=False),
            "body": normalise(body.decode("utf-8", "replace"))}


# -- comparing -------------------------------------------------------------------------


def compare(envoy: Observation, local: Observation) -> list[str]:
    """Human-readable differences (empty: the two hosts behaved the same)."""
    diffs: list[str] = []
    if envoy.loaded != local.loaded:
        diffs.append(f"load: envoy {'loaded' if envoy.loaded else 'refused'} it"
                     f"{'' if envoy.loaded else f' at {envoy.stage}'}, wasmhub "
                     f"{'loaded' if local.loaded else f'refused it at {local.stage}'}"
                     f"{f' ({local.reason})' if not local.loaded else ''}")
        return diffs
    if not envoy.loaded:
        if envoy.stage != local.stage:
            diffs.append(f"refusal stage: envoy {envoy.stage}, wasmhub {local.stage}")
        if envoy.startup_logs != local.startup_logs:
            diffs.append(f"plugin logs at refusal: envoy {envoy.startup_logs}, wasmhub "
                         f"{local.startup_logs}")
        return diffs
    if envoy.startup_logs != local.startup_logs:
        diffs.append(f"start-up logs: envoy {envoy.startup_logs}, wasmhub "
                     f"{local.startup_logs}")
    for index, (one, two) in enumerate(zip(envoy.exchanges, local.exchanges, strict=False)):
        for name in ("status", "headers", "body", "upstream", "logs"):
            first, second = getattr(one, name), getattr(two, name)
            if first != second:
                diffs.append(f"request {index + 1} {name}: envoy {first!r}, wasmhub "
                             f"{second!r}")
    return diffs
