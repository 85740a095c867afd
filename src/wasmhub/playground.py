"""The plugin playground: one request through a stored plugin version, on the server.

:class:`PlaygroundService` is built once per hub (``Hub.playground``) and is the only way
the web page and ``POST /api/v1/plugins/{namespace}/{name}/playground`` run a module. It
reads the chosen version's module from the registry (``Hub.read_plugin_module``: the
analyser's unpacker and limits), loads it on the local runtime with the playground's
limits and sends the request ``repeat`` times through one fresh VM (so a rate limiter's
state carries from the first to the last), then returns a :class:`PlaygroundOutcome`.

The module is untrusted. Limits (settings, docs/operations.md "Limits"):

- CPU: every guest callback runs under the runtime's epoch deadline
  (``playground_callback_ms``); a callback past it is interrupted and reported as such.
  The whole run has a budget too (``playground_run_seconds``, ``HostConfig.cpu_budget_ms``):
  a callback started near its end gets only what is left, so no run holds its worker
  thread much past it; the caller waits no longer than that budget plus a margin.
- Memory: the VM's linear memory is capped (``playground_memory_mb``).
- Concurrency: at most ``playground_max_concurrent`` runs at once per process, each on
  the service's own worker threads (never the event loop); more get ``PlaygroundBusyError``.
- Network: none. ``proxy_http_call`` is answered only from the answers the form declares;
  a call to any other cluster is refused by the runtime with a log line saying so.
- Input: body size, header count and repeat are bounded; invalid input raises
  :class:`PlaygroundInputError` (400).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wasmhub.errors import BusyError, InputError, PermissionDeniedError, WasmhubError
from wasmhub.runtime import Plugin
from wasmhub.runtime.abi import LogLevel
from wasmhub.runtime.errors import ModuleLoadError, PluginStartError
from wasmhub.runtime.model import (
    Clock,
    HostConfig,
    HttpCallAnswer,
    HttpRequest,
    HttpResult,
    LogEntry,
    UpstreamResponse,
)

if TYPE_CHECKING:
    from wasmhub.catalog.types import VersionDetail
    from wasmhub.hub import Hub

MAX_HEADERS = 100
MAX_CALL_ANSWERS = 20
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class PlaygroundInputError(InputError):
    """The playground request is malformed (the message names the field)."""


class PlaygroundDisabledError(PermissionDeniedError):
    """This hub has the playground switched off (``playground_enabled: false``)."""


class PlaygroundBusyError(BusyError):
    """All playground slots are in use, or a run outlived its wall-clock budget."""


@dataclass(frozen=True)
class PlaygroundRequest:
    """What the user asks for: the request, the plugin configuration and callout answers."""

    method: str = "GET"
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    config: Any = None  # the pluginConfig JSON value; None sends an empty configuration
    repeat: int = 1
    upstream_status: int = 200
    upstream_body: bytes = b"hello from the upstream\n"
    http_calls: tuple[HttpCallAnswer, ...] = ()


@dataclass
class PlaygroundOutcome:
    """What happened: ``started`` False with ``start_error`` when the plugin did not load
    or start; otherwise ``result`` (the last request's) and the statuses of every one."""

    version: str
    started: bool
    start_error: str = ""
    start_stage: str = ""
    statuses: list[int | None] = field(default_factory=list)
    result: HttpResult | None = None
    logs: list[LogEntry] = field(default_factory=list)
    host_calls: int = 0
    guest_calls: int = 0
    stopped_by_limit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "started": self.started,
            "start_error": self.start_error or None, "start_stage": self.start_stage or None,
            "statuses": self.statuses,
            "result": None if self.result is None else self.result.to_json(),
            "logs": [entry.to_json() for entry in self.logs],
            "host_calls": self.host_calls, "guest_calls": self.guest_calls,
            "stopped_by_limit": self.stopped_by_limit or None,
        }


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise PlaygroundInputError(f"{what} must be a string")
    if len(value) > limit:
        raise PlaygroundInputError(f"{what} is longer than {limit} characters")
    return value


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``Name: value`` lines (blank lines ignored) as header pairs."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise PlaygroundInputError(f"headers line {number} is not 'Name: value'")
        pairs.append((name.strip().lower(), value.strip()))
    if len(pairs) > MAX_HEADERS:
        raise PlaygroundInputError(f"at most {MAX_HEADERS} headers")
    return tuple(pairs)


def parse_config(text: str) -> Any:
    """The plugin configuration typed as JSON (empty text = no configuration)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PlaygroundInputError(f"the plugin configuration is not valid JSON: {exc}") from exc


def parse_call_answers(value: Any) -> tuple[HttpCallAnswer, ...]:
    """Declared answers to ``proxy_http_call``: a JSON list of ``{cluster, status,
    headers: {name: value}, body, fail}`` objects (or the JSON text of one)."""
    if isinstance(value, str):
        if not value.strip():
            return ()
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise PlaygroundInputError(f"the callout answers are not valid JSON: {exc}") from exc
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_CALL_ANSWERS:
        raise PlaygroundInputError(f"callout answers must be a list of at most "
                                   f"{MAX_CALL_ANSWERS} objects")
    answers = []
    for index, item in enumerate(value):
        where = f"callout answer {index + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("cluster"), str):
            raise PlaygroundInputError(f"{where} must be an object with a 'cluster' string")
        status, headers = item.get("status", 200), item.get("headers", {})
        body, fail = item.get("body", ""), item.get("fail", False)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise PlaygroundInputError(f"{where}: status must be an HTTP status code")
        if not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise PlaygroundInputError(f"{where}: headers must map names to strings")
        if not isinstance(body, str) or not isinstance(fail, bool):
            raise PlaygroundInputError(f"{where}: body must be a string and fail a boolean")
        answers.append(HttpCallAnswer(item["cluster"], status,
                                      [(k.lower(), v) for k, v in headers.items()],
                                      body.encode(), fail=fail))
    return tuple(answers)


class PlaygroundService:
    """Runs playground requests within the hub's limits. Built once per hub; thread-safe."""

    def __init__(self, hub: Hub) -> None:
        settings = hub.settings
        self.hub = hub
        self.enabled = settings.playground_enabled
        self.max_body_bytes = settings.playground_max_body_bytes
        self.max_repeat = settings.playground_max_repeat
        self.callback_ms = settings.playground_callback_ms
        self.memory_bytes = settings.playground_memory_mb << 20
        self.run_seconds = settings.playground_run_seconds
        self.max_concurrent = settings.playground_max_concurrent
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._workers = ThreadPoolExecutor(self.max_concurrent,
                                           thread_name_prefix="wasmhub-playground")

    def build_request(
        self, *, method: object = "GET", path: object = "/", headers: object = "",
        body: object = "", config: object = None, config_text: object = None, repeat: object = 1,
        upstream_status: object = 200, http_calls: object = "",
    ) -> PlaygroundRequest:
        """A validated request from form or JSON values (strings, or typed JSON values).
        ``config`` is the configuration as a JSON value; ``config_text`` instead is JSON
        text the user typed (parsed here, PlaygroundInputError when invalid)."""
        verb = _text(method, "method", 16).upper()
        if verb not in _METHODS:
            raise PlaygroundInputError(f"method must be one of {', '.join(sorted(_METHODS))}")
        target = _text(path, "path", 4096)
        if not target.startswith("/"):
            raise PlaygroundInputError("path must start with /")
        pairs = parse_headers(_text(headers, "headers", 64 * 1024)) if isinstance(
            headers, str) else self._header_list(headers)
        data = _text(body, "body", self.max_body_bytes * 4).encode()
        if len(data) > self.max_body_bytes:
            raise PlaygroundInputError(f"the body is larger than the playground's limit of "
                                       f"{self.max_body_bytes} bytes")
        value = config if config_text is None else parse_config(
            _text(config_text, "config", 1024 * 1024))
        count = _int(repeat, "repeat", 1, self.max_repeat)
        status = _int(upstream_status, "upstream status", 100, 599)
        return PlaygroundRequest(verb, target, pairs, data, value, count, status,
                                 http_calls=parse_call_answers(http_calls))

    @staticmethod
    def _header_list(value: object) -> tuple[tuple[str, str], ...]:
        if isinstance(value, dict):
            value = list(value.items())
        if not isinstance(value, list) or len(value) > MAX_HEADERS or not all(
                isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in value):
            raise PlaygroundInputError(f"headers must be at most {MAX_HEADERS} "
                                       "[name, value] string pairs")
        return tuple((str(k).lower(), str(v)) for k, v in value)

    async def run(self, version: VersionDetail, request: PlaygroundRequest) -> PlaygroundOutcome:
        """Run ``request`` through ``version``'s module off the event loop; the caller
        waits at most the run budget (plus a margin for reading the module)."""
        if not self.enabled:
            raise PlaygroundDisabledError("the playground is disabled on this hub")
        if not self._slots.acquire(blocking=False):
            raise PlaygroundBusyError(f"the playground is busy ({self.max_concurrent} runs "
                                      "at once); try again in a moment")
        try:
            future: Future[PlaygroundOutcome] = self._workers.submit(
                self._run, f"{version.namespace}/{version.name}", version.version.tag,
                version.version.digest, version.root_id, request)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future),
                                          self.run_seconds + 5.0)
        except TimeoutError as exc:
            raise PlaygroundBusyError(f"the run did not finish within the playground's "
                                      f"{self.run_seconds:g} s budget") from exc

    def _run(self, repository: str, version: str, digest: str, root_id: str | None,
             request: PlaygroundRequest) -> PlaygroundOutcome:
        deadline = time.monotonic() + self.run_seconds
        module = self.hub.read_plugin_module(repository, digest)
        config = HostConfig(
            plugin_config=b"" if request.config is None
            else json.dumps(request.config).encode(),
            root_id=root_id or "", plugin_name=repository, clock=Clock.REAL,
            callback_timeout_ms=self.callback_ms, memory_limit_bytes=self.memory_bytes,
            cpu_budget_ms=max(1.0, (deadline - time.monotonic()) * 1000),
            log_level=LogLevel.TRACE, http_calls=list(request.http_calls),
        )
        outcome = PlaygroundOutcome(version, started=False)
        try:
            plugin = Plugin(module, config)
        except PluginStartError as exc:
            outcome.start_error, outcome.start_stage = exc.message, exc.stage
            outcome.logs = [e for e in exc.plugin_logs if isinstance(e, LogEntry)]
            if "interrupt" in exc.message:
                outcome.stopped_by_limit = self._limit_message(exc.callback or exc.stage)
            return outcome
        except ModuleLoadError as exc:
            outcome.start_error, outcome.start_stage = exc.message, exc.stage
            return outcome
        outcome.started = True
        http = HttpRequest(request.method, request.path, list(request.headers), request.body)
        upstream = UpstreamResponse(request.upstream_status,
                                    [("content-type", "text/plain")], request.upstream_body)
        for _ in range(request.repeat):
            result = plugin.http(http, upstream)
            outcome.statuses.append(result.status)
            outcome.result = result
            outcome.host_calls += result.host_calls
            outcome.guest_calls += result.guest_calls
            if result.failure is not None or time.monotonic() > deadline:
                break
        outcome.logs = list(plugin.logs)
        failure = outcome.result.failure if outcome.result else None
        if failure is not None and failure.timed_out:
            outcome.stopped_by_limit = self._limit_message(failure.callback)
        return outcome

    def _limit_message(self, callback: str) -> str:
        return (f"{callback} was stopped: it ran past the playground's CPU limit of "
                f"{self.callback_ms:g} ms per callback ({self.run_seconds:g} s per run)")

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)


def _int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip() or low)
        except ValueError as exc:
            raise PlaygroundInputError(f"{what} must be a whole number") from exc
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise PlaygroundInputError(f"{what} must be a whole number from {low} to {high}")
    return value


__all__ = ["PlaygroundBusyError", "PlaygroundDisabledError", "PlaygroundInputError",
           "PlaygroundOutcome", "PlaygroundRequest", "PlaygroundService", "WasmhubError"]
