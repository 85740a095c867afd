"""``wasmhub test --envoy``: the same test file run through a real Envoy, and the two
hosts' results side by side.

:class:`EnvoyHarness` starts one Envoy for the file (state carries from case to case, as
in the local harness) with the module as its only HTTP filter in front of a recording
upstream, and one recording server per cluster the file declares under ``http_calls``
(answering as declared; ``fail: true`` closes the connection without an answer). Each case
sends its request (``repeat`` times) and is checked with the same expectations as the
local run, from what Envoy did: the client's response, what the upstream received, the
plugin's log lines (Envoy's log), its metrics (Envoy's ``wasmcustom.*`` stats) and whether
the plugin failed ("Function: ... failed" in Envoy's log).

A proxy's clock cannot be moved: ``advance_ms`` waits that long in real time (said in the
case's result). TCP (``connection:``) cases and gRPC callouts are not driven through Envoy;
such a case is reported as not run there. :func:`compare_suites` lists where the two hosts
disagree (a case passing in one and failing in the other, or different statuses).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmhub.errors import WasmhubError
from wasmhub.runtime.abi import LogLevel
from wasmhub.runtime.envoy import EnvoyFilter, EnvoyHost, EnvoyLogEntry, parse_log
from wasmhub.runtime.harness import CaseResult, Harness, SuiteResult
from wasmhub.runtime.model import (
    HttpRequest,
    HttpResult,
    LocalReply,
    LogEntry,
    OutboundCall,
    PluginFailure,
    UpstreamRequest,
    UpstreamResponse,
)
from wasmhub.runtime.recorder import RecordingUpstream, send
from wasmhub.runtime.testfile import CaseSpec, ResponseSpec, TestFile, header_pairs

STALL_SECONDS = 8.0
_FAILED = re.compile(r"Function: (\w+) failed: (.*)", re.DOTALL)
_END_CALLBACKS = ("proxy_on_delete", "proxy_on_log", "proxy_on_done")
_PROXY_RESPONSE_HEADERS = ("date", "server")


def _response(spec: ResponseSpec) -> UpstreamResponse:
    return UpstreamResponse(spec.status, header_pairs(spec.headers), spec.body.encode(),
                            header_pairs(spec.trailers),
                            None if spec.body_chunks is None
                            else [c.encode() for c in spec.body_chunks])


@dataclass
class _PluginView:
    """What the expectation checks read from a plugin, taken from Envoy."""

    metrics: dict[str, int | list[int]]
    failure: PluginFailure | None


class EnvoyHarness(Harness):
    """Runs a test file's cases through a real Envoy (see the module docstring)."""

    def __init__(self, spec: TestFile, *, module: bytes | None = None,
                 base_dir: Path | None = None, name: str = "wasmhub",
                 ready_timeout: float = 240.0) -> None:
        super().__init__(spec, module=module, base_dir=base_dir, name=name)
        self.ready_timeout = ready_timeout

    def run(self) -> SuiteResult:
        try:
            module = self.module_bytes()
        except WasmhubError as exc:
            return self._all_error(exc.message)
        spec = self.spec
        clusters = sorted({call.cluster for case in spec.cases for call in case.http_calls})
        with contextlib.ExitStack() as stack:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="wasmhub-envoy-test-")))
            path = work / "plugin.wasm"
            path.write_bytes(module)
            upstream = stack.enter_context(RecordingUpstream())
            callouts = {name: stack.enter_context(RecordingUpstream()) for name in clusters}
            ports = {name: server.port for name, server in callouts.items()}
            config = self.host_config()
            plugin = EnvoyFilter(path, "http", config.plugin_config, config.vm_config,
                                 dict(config.vm_env), config.root_id,
                                 config.vm_id or "wasmhub", config.plugin_name,
                                 config.fail_strategy.value == "fail_open")
            try:
                host = stack.enter_context(EnvoyHost(plugin, upstream.port, ports,
                                                     ready_timeout=self.ready_timeout))
            except WasmhubError as exc:
                return self._all_error(f"Envoy refused the plugin: {exc.message}")
            cases = [self._case(host, upstream, callouts, case) for case in spec.cases]
            metrics = _custom_metrics(host)
        return SuiteResult(self.name, cases, None, metrics=metrics)

    def _all_error(self, message: str) -> SuiteResult:
        return SuiteResult(self.name, [CaseResult(case.name, error=message)
                                       for case in self.spec.cases], error=message)

    def _case(self, host: EnvoyHost, upstream: RecordingUpstream,
              callouts: dict[str, RecordingUpstream], case: CaseSpec) -> CaseResult:
        started = time.perf_counter()
        outcome = CaseResult(case.name)
        if case.connection is not None or case.grpc_calls:
            outcome.error = ("not run through Envoy: TCP connections and gRPC callouts "
                             "are checked by the local runtime only")
            return outcome
        if case.advance_ms:
            time.sleep(case.advance_ms / 1000)  # a proxy's clock only moves in real time
        for call in case.http_calls:
            server = callouts[call.cluster]
            server.response = _response(call.response)
            server.refuse = call.fail
        upstream.response = _response(case.upstream)
        log_start = len(host.log_text())
        spec = case.request
        request = HttpRequest() if spec is None else HttpRequest(
            spec.method, spec.path, header_pairs(spec.headers), spec.body.encode(),
            header_pairs(spec.trailers), spec.authority, spec.scheme,
            None if spec.body_chunks is None else [c.encode() for c in spec.body_chunks])
        result: HttpResult | None = None
        for _ in range(case.repeat):
            upstream.take()
            for server in callouts.values():
                server.take()
            result = self._send(host, upstream, callouts, request)
        assert result is not None
        entries = parse_log(host.log_text()[log_start:])
        result.logs = _plugin_logs(entries)
        failure = _failure(entries)
        result.failure = failure
        outcome.result = result
        view = _PluginView(_custom_metrics(host), failure)
        logs = "\n".join(entry.message for entry in result.logs)
        self._check(case, outcome, logs, view, False)  # type: ignore[arg-type]
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _send(self, host: EnvoyHost, upstream: RecordingUpstream,
              callouts: dict[str, RecordingUpstream], request: HttpRequest) -> HttpResult:
        before = host.log_text()
        count = sum(before.count(f"[host<-vm] {name} return") for name in _END_CALLBACKS)
        reply = send(host.port, request, timeout=STALL_SECONDS)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            text = host.log_text()
            if sum(text.count(f"[host<-vm] {name} return") for name in _END_CALLBACKS) > count:
                break
            time.sleep(0.02)
        received = upstream.take()
        up = None
        if received:
            got = received[0]
            host_header = next((v for k, v in got.headers if k == "host"), "")
            pairs = [(":authority", host_header), (":path", got.path),
                     (":method", got.method), (":scheme", request.scheme)]
            pairs += [(k, v) for k, v in got.headers if k != "host"]
            up = UpstreamRequest(pairs, got.body, [])
        calls = []
        for name, server in sorted(callouts.items()):
            for got in server.take():
                calls.append(OutboundCall("http", name, 0, 0, got.headers, got.body, 0,
                                          answered=True))
        headers = [(k, v) for k, v in reply.headers if k not in _PROXY_RESPONSE_HEADERS]
        stalled = "request" if reply.status is None and up is None else (
            "response" if reply.status is None else None)
        # An answer that never reached the upstream was the filter's (or Envoy's) own.
        local = None if reply.status is None or up is not None else LocalReply(
            reply.status, "", reply.body, headers, None)
        return HttpResult(reply.status, headers, reply.body, [], up, local,
                          stalled=stalled, calls=calls)


def _plugin_logs(entries: list[EnvoyLogEntry]) -> list[LogEntry]:
    logs = []
    for entry in entries:
        text = entry.plugin_message
        if text is not None:
            logs.append(LogEntry(LogLevel(min(max(entry.level, 0), 5)), text, 0,
                                 "proxy_log", entry.callback or ""))
    return logs


def _failure(entries: list[EnvoyLogEntry]) -> PluginFailure | None:
    for entry in entries:
        found = _FAILED.search(entry.message) if entry.logger == "wasm" else None
        if found:
            return PluginFailure(found.group(1), found.group(2).strip(), 0)
    return None


def _custom_metrics(host: EnvoyHost) -> dict[str, int | list[int]]:
    """The plugin's metrics, as Envoy exposes them (``wasmcustom.`` + name)."""
    values: dict[str, int | list[int]] = {}
    for name, value in host.stats("wasmcustom").items():
        values[name.removeprefix("wasmcustom.")] = value
    return values


@dataclass
class HostDifference:
    case: str
    message: str


def compare_suites(local: SuiteResult, envoy: SuiteResult) -> list[HostDifference]:
    """Where the local runtime and Envoy disagree on the same test file."""
    differences: list[HostDifference] = []
    if (local.error is None) != (envoy.error is None):
        differences.append(HostDifference("(load)", f"wasmhub: {local.error or 'loaded'}; "
                                                    f"Envoy: {envoy.error or 'loaded'}"))
        return differences
    for one, two in zip(local.cases, envoy.cases, strict=True):
        if two.error and two.error.startswith("not run through Envoy"):
            continue
        if one.passed != two.passed:
            differences.append(HostDifference(
                one.name, f"passes in {'wasmhub' if one.passed else 'Envoy'} only"))
        status_one = one.result.status if one.result else None
        status_two = two.result.status if two.result else None
        if status_one != status_two:
            differences.append(HostDifference(
                one.name, f"status {status_one} in wasmhub, {status_two} in Envoy"))
    return differences


def to_json(local: SuiteResult, envoy: SuiteResult) -> dict[str, Any]:
    return {"local": local.to_json(), "envoy": envoy.to_json(),
            "differences": [{"case": d.case, "message": d.message}
                            for d in compare_suites(local, envoy)]}

