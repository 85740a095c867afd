"""The test runner behind ``wasmhub test`` and the Python API :class:`Harness`.

One plugin VM serves the whole file, so state carries from case to case (a rate limiter
counts across cases) as it would in a proxy. Each case may advance the virtual clock,
declares the upstream's and callouts' answers, sends its request ``repeat`` times (the
expectations apply to the last) or drives a TCP connection, then checks expectations.
Results carry readable mismatch messages with unified diffs, and render as JUnit XML.
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from wasmhub.errors import WasmhubError
from wasmhub.runtime.abi import LogLevel
from wasmhub.runtime.errors import TestFileError
from wasmhub.runtime.model import (
    GrpcAnswer,
    HostConfig,
    HttpCallAnswer,
    HttpRequest,
    HttpResult,
    UpstreamResponse,
)
from wasmhub.runtime.network import ConnectionResult
from wasmhub.runtime.plugin import Plugin
from wasmhub.runtime.resolve import resolve_module
from wasmhub.runtime.testfile import (
    CaseSpec,
    ExpectSpec,
    ResponseSpec,
    TestFile,
    config_bytes,
    header_pairs,
    load_test_file,
)
from wasmhub.runtime.vm import SharedState


@dataclass
class Mismatch:
    what: str
    message: str
    diff: str = ""

    def render(self) -> str:
        return f"{self.what}: {self.message}" + (f"\n{self.diff}" if self.diff else "")


@dataclass
class CaseResult:
    name: str
    mismatches: list[Mismatch] = field(default_factory=list)
    result: HttpResult | None = None
    connection: ConnectionResult | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "passed": self.passed, "error": self.error,
            "mismatches": [{"what": m.what, "message": m.message, "diff": m.diff}
                           for m in self.mismatches],
            "result": None if self.result is None else self.result.to_json(),
        }


@dataclass
class SuiteResult:
    name: str
    cases: list[CaseResult]
    abi: str | None = None
    error: str | None = None
    metrics: dict[str, int | list[int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and all(case.passed for case in self.cases)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "abi": self.abi,
                "error": self.error, "metrics": self.metrics,
                "cases": [case.to_json() for case in self.cases]}

    def junit(self) -> str:
        failures = sum(1 for case in self.cases if case.mismatches and case.error is None)
        errors = sum(1 for case in self.cases if case.error is not None)
        suite = ElementTree.Element("testsuite", {
            "name": self.name, "tests": str(len(self.cases)), "failures": str(failures),
            "errors": str(errors),
            "time": f"{sum(case.seconds for case in self.cases):.6f}"})
        for case in self.cases:
            node = ElementTree.SubElement(suite, "testcase", {
                "classname": self.name, "name": case.name, "time": f"{case.seconds:.6f}"})
            if case.error is not None:
                ElementTree.SubElement(node, "error", {"message": case.error}).text = case.error
            elif case.mismatches:
                text = "\n\n".join(m.render() for m in case.mismatches)
                ElementTree.SubElement(node, "failure", {
                    "message": case.mismatches[0].render().splitlines()[0]}).text = text
        root = ElementTree.Element("testsuites")
        root.append(suite)
        ElementTree.indent(root)
        return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected",
                                 "actual", lineterm="")
    return "\n".join(lines)


def _response(spec: ResponseSpec) -> UpstreamResponse:
    return UpstreamResponse(
        spec.status, header_pairs(spec.headers), spec.body.encode(),
        header_pairs(spec.trailers),
        None if spec.body_chunks is None else [c.encode() for c in spec.body_chunks])


class Harness:
    """Runs a test file's cases against one plugin instance."""

    def __init__(self, spec: TestFile, *, module: bytes | None = None,
                 base_dir: Path | None = None, name: str = "wasmhub") -> None:
        self.spec = spec
        self.base_dir = base_dir or Path.cwd()
        self.name = name
        self._module = module
        self.plugin: Plugin | None = None

    @classmethod
    def from_file(cls, path: Path, *, module: str | Path | None = None) -> Harness:
        spec = load_test_file(path)
        data = resolve_module(module) if module is not None else None
        return cls(spec, module=data, base_dir=path.parent, name=path.stem)

    def module_bytes(self) -> bytes:
        if self._module is not None:
            return self._module
        if self.spec.module is None:
            raise TestFileError("the test file names no module: add `module:` or pass "
                                "--module")
        target = self.spec.module
        local = self.base_dir / target
        return resolve_module(local if local.exists() or target.endswith(".wasm") else target)

    def host_config(self) -> HostConfig:
        spec = self.spec
        return HostConfig(
            plugin_config=config_bytes(spec.plugin_config),
            vm_config=config_bytes(spec.vm_config), vm_env=dict(spec.vm_env),
            root_id=spec.root_id, vm_id=spec.vm_id, plugin_name=spec.plugin_name,
            properties=dict(spec.properties), fail_strategy=spec.fail_strategy,
            callback_timeout_ms=spec.timeout_ms,
            memory_limit_bytes=spec.memory_limit_mb << 20,
            log_level=LogLevel[spec.log_level.upper()],
        )

    def run(self) -> SuiteResult:
        try:
            self.plugin = Plugin(self.module_bytes(), self.host_config(), shared=SharedState())
        except WasmhubError as exc:
            return SuiteResult(self.name, [CaseResult(case.name, error=exc.message)
                                           for case in self.spec.cases], error=exc.message)
        cases = [self.run_case(case) for case in self.spec.cases]
        return SuiteResult(self.name, cases, self.plugin.abi.value,
                           metrics=self.plugin.metrics)

    def run_case(self, case: CaseSpec) -> CaseResult:
        plugin = self.plugin
        assert plugin is not None
        started = time.perf_counter()
        outcome = CaseResult(case.name)
        vm = plugin.vm
        logs_start = len(vm.logs)
        vm.config.http_calls = [
            HttpCallAnswer(c.cluster, c.response.status, header_pairs(c.response.headers),
                           c.response.body.encode(), header_pairs(c.response.trailers), c.fail)
            for c in case.http_calls]
        vm.config.grpc_calls = [
            GrpcAnswer(g.cluster, g.service, g.method, g.status, g.status_message,
                       [m.encode() for m in g.messages], header_pairs(g.initial_metadata),
                       header_pairs(g.trailing_metadata)) for g in case.grpc_calls]
        vm.http_answer_cursor.clear()
        failed_before = vm.failure is not None
        try:
            if case.advance_ms:
                plugin.advance(case.advance_ms)
            if case.connection is not None:
                outcome.connection = self._connection(plugin, case)
            if case.request is not None or case.connection is None:
                outcome.result = self._requests(plugin, case)
        except WasmhubError as exc:
            outcome.error = exc.message
        logs = "\n".join(entry.message for entry in vm.logs[logs_start:])
        if outcome.error is None:
            self._check(case, outcome, logs, plugin, failed_before)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _requests(self, plugin: Plugin, case: CaseSpec) -> HttpResult:
        spec = case.request
        if spec is None:
            from wasmhub.runtime.testfile import RequestSpec

            spec = RequestSpec()
        request = HttpRequest(
            spec.method, spec.path, header_pairs(spec.headers), spec.body.encode(),
            header_pairs(spec.trailers), spec.authority, spec.scheme,
            None if spec.body_chunks is None else [c.encode() for c in spec.body_chunks])
        upstream = _response(case.upstream)
        result = plugin.http(request, upstream)
        for _ in range(case.repeat - 1):
            result = plugin.http(request, upstream)
        return result

    def _connection(self, plugin: Plugin, case: CaseSpec) -> ConnectionResult:
        spec = case.connection
        assert spec is not None
        connection = plugin.connection()
        for index, chunk in enumerate(spec.downstream):
            connection.downstream(chunk.encode(), index == len(spec.downstream) - 1)
        for index, chunk in enumerate(spec.upstream):
            connection.upstream(chunk.encode(), index == len(spec.upstream) - 1)
        if spec.close:
            return connection.close()
        return connection.result

    def _check(self, case: CaseSpec, outcome: CaseResult, logs: str, plugin: Plugin,
               failed_before: bool) -> None:
        miss = outcome.mismatches
        expect = case.expect
        result = outcome.result
        if result is not None:
            _check_http(expect, result, miss)
        failure = result.failure if result is not None else plugin.failure
        if expect.plugin_failed is not None and (failure is not None) != expect.plugin_failed:
            miss.append(Mismatch("plugin_failed", f"expected {expect.plugin_failed}, got "
                                 f"{failure is not None}" +
                                 (f" ({failure.describe()})" if failure else "")))
        elif expect.plugin_failed is None and failure is not None and not failed_before:
            miss.append(Mismatch("plugin", f"unexpected plugin failure: {failure.describe()}"))
        if expect.failure_contains is not None and (
            failure is None or expect.failure_contains not in failure.describe()
        ):
            miss.append(Mismatch("failure_contains", f"expected a failure mentioning "
                                 f"{expect.failure_contains!r}, got "
                                 f"{failure.describe() if failure else 'none'}"))
        for text in expect.logs_contain:
            if text not in logs:
                miss.append(Mismatch("logs_contain", f"no log line contains {text!r}",
                                     "logs were:\n" + (logs or "(none)")))
        for text in expect.logs_absent:
            if text in logs:
                miss.append(Mismatch("logs_absent", f"a log line contains {text!r}"))
        metrics = plugin.metrics
        for name, wanted in expect.metrics.items():
            if name not in metrics:
                known = ", ".join(sorted(metrics)) or "none"
                miss.append(Mismatch(f"metrics.{name}", f"not defined (defined: {known})"))
            elif metrics[name] != wanted:
                miss.append(Mismatch(f"metrics.{name}",
                                     f"expected {wanted!r}, got {metrics[name]!r}"))
        if outcome.connection is not None:
            _check_connection(case, outcome.connection, miss)


def _check_http(expect: ExpectSpec, result: HttpResult, miss: list[Mismatch]) -> None:
    if expect.status is not None and result.status != expect.status:
        why = ""
        if result.stalled:
            why = f" (the filter paused the {result.stalled} and nothing resumed it)"
        elif result.reset:
            why = " (the stream was reset)"
        elif result.local_reply is not None:
            why = f" (local reply: {result.local_reply.details or 'no details'})"
        miss.append(Mismatch("status", f"expected {expect.status}, got {result.status}{why}"))
    _headers("headers", expect.headers, expect.headers_absent, result.headers, miss)
    _headers("trailers", expect.trailers, [], result.trailers, miss)
    _body("body", expect.body, expect.body_contains, result.body, miss)
    if expect.body_matches is not None and not re.search(
        expect.body_matches, result.body.decode("utf-8", "replace")
    ):
        miss.append(Mismatch("body_matches", f"body does not match /{expect.body_matches}/",
                             _diff(expect.body_matches, result.body.decode("utf-8", "replace"))))
    upstream = result.upstream_request
    if expect.reached_upstream is not None and expect.reached_upstream != (upstream is not None):
        miss.append(Mismatch("reached_upstream", f"expected {expect.reached_upstream}, got "
                             f"{upstream is not None}"))
    wants_upstream = (expect.upstream_headers or expect.upstream_headers_absent or
                      expect.upstream_body is not None or expect.upstream_body_contains)
    if wants_upstream and upstream is None:
        miss.append(Mismatch("upstream", "the request never reached the upstream"))
    elif upstream is not None:
        _headers("upstream_headers", expect.upstream_headers, expect.upstream_headers_absent,
                 upstream.headers, miss)
        _body("upstream_body", expect.upstream_body, expect.upstream_body_contains,
              upstream.body, miss)
    for name, wanted_flag, actual_flag in (
        ("local_reply", expect.local_reply, result.local_reply is not None),
        ("reset", expect.reset, result.reset),
        ("stalled", expect.stalled, result.stalled is not None),
    ):
        if wanted_flag is not None and wanted_flag != actual_flag:
            miss.append(Mismatch(name, f"expected {wanted_flag}, got {actual_flag}"))
    if expect.http_calls is not None:
        made = [call for call in result.calls if call.kind == "http"]
        if len(made) != len(expect.http_calls):
            miss.append(Mismatch("http_calls", f"expected {len(expect.http_calls)} calls, the "
                                 f"plugin made {len(made)}: "
                                 f"{[call.cluster for call in made]}"))
        for index, (wanted, call) in enumerate(zip(expect.http_calls, made, strict=False)):
            if wanted.cluster != call.cluster:
                miss.append(Mismatch(f"http_calls[{index}].cluster",
                                     f"expected {wanted.cluster!r}, got {call.cluster!r}"))
            _headers(f"http_calls[{index}].headers", wanted.headers, [], call.headers, miss)
            _body(f"http_calls[{index}].body", None, wanted.body_contains, call.body, miss)


def _headers(what: str, wanted: dict[str, str], absent: list[str],
             actual: list[tuple[str, str]], miss: list[Mismatch]) -> None:
    values: dict[str, list[str]] = {}
    for key, value in actual:
        values.setdefault(key.lower(), []).append(value)
    shown = "\n".join(f"{key}: {value}" for key, value in actual) or "(none)"
    for name, value in wanted.items():
        got = values.get(name.lower())
        if got is None:
            miss.append(Mismatch(f"{what}.{name}", f"missing (expected {value!r})",
                                 f"{what} were:\n{shown}"))
        elif ",".join(got) != value:
            miss.append(Mismatch(f"{what}.{name}", f"expected {value!r}, got "
                                 f"{','.join(got)!r}"))
    for name in absent:
        if name.lower() in values:
            miss.append(Mismatch(f"{what}_absent.{name}", f"present with "
                                 f"{','.join(values[name.lower()])!r}"))


def _body(what: str, exact: str | None, contains: str | None, actual: bytes,
          miss: list[Mismatch]) -> None:
    text = actual.decode("utf-8", "replace")
    if exact is not None and text != exact:
        miss.append(Mismatch(what, "differs", _diff(exact, text)))
    if contains is not None and contains not in text:
        miss.append(Mismatch(what, f"does not contain {contains!r}", f"{what} was:\n{text}"))


def _check_connection(case: CaseSpec, result: ConnectionResult, miss: list[Mismatch]) -> None:
    expect = case.expect_connection
    for name, wanted, actual in (("upstream_data", expect.upstream_data, result.to_upstream),
                                 ("downstream_data", expect.downstream_data,
                                  result.to_downstream)):
        if wanted is not None and wanted.encode() != actual:
            miss.append(Mismatch(name, "differs", _diff(wanted, actual.decode("utf-8",
                                                                               "replace"))))
    if expect.closed is not None and expect.closed != result.closed:
        miss.append(Mismatch("closed", f"expected {expect.closed}, got {result.closed}"))
