"""Bounded evaluation of untrusted JSON Schemas (a plugin's ``configSchema``).

A plugin author controls its config schema, and JSON Schema is a small program: a
``pattern`` such as ``^(a+)+$`` backtracks for minutes on 30 characters, ``uniqueItems``
is quadratic, ``$ref`` chains recurse. So no such schema is evaluated in a server
thread, let alone on the event loop: :class:`SchemaEvaluator` runs ``check_schema`` and
``validate`` in a few dedicated worker processes (spawned, single-threaded, with an
address-space limit) and kills a worker that exceeds the deadline, starting a fresh one.
The caller gets :class:`SchemaEvaluationError` (an input error: the schema is at fault)
instead of a stalled hub.

Callers run in a worker thread (a call blocks for up to the deadline). At most
``workers`` evaluations run at once per process; a caller waits for a free worker up to
the same deadline, then gets :class:`SchemaEvaluatorBusy`.

Results cross the process boundary as plain data (:class:`SchemaProblem`), never as
``jsonschema`` objects.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from wasmhub.errors import InputError, WasmhubError

log = logging.getLogger(__name__)

# A worker's address space: jsonschema on Python needs well under this; a schema or
# config that tries to build something bigger fails inside the worker, not the hub.
WORKER_MEMORY_BYTES = 1024 * 1024 * 1024
# How long a fresh worker may take to import jsonschema (a loaded machine is slow).
WORKER_START_SECONDS = 60.0
# Problems reported per validation (a config can violate a schema in many places).
MAX_PROBLEMS = 200


class SchemaEvaluationError(InputError):
    """The schema could not be evaluated within its limits (too slow or too big)."""


class SchemaEvaluatorBusy(WasmhubError):
    """Every evaluator worker stayed busy for the whole wait: try again."""

    http_status = 503


@dataclass(frozen=True)
class SchemaProblem:
    """One ``jsonschema`` validation error, as plain data."""

    path: tuple[str | int, ...]  # where in the instance
    keyword: str  # the failing keyword (``required``, ``pattern``, ...)
    keyword_value: Any
    message: str


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # pragma: no cover - platform without it
        pass


def _check(schema: Any) -> str | None:
    from jsonschema import Draft202012Validator, SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, Mapping):
        return "The config schema is not a JSON object."
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(dict(schema))
    except SchemaError as exc:
        return f"The config schema is not valid JSON Schema: {exc.message}"
    return None


def _validate(schema: Any, instance: Any) -> list[SchemaProblem]:
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    problems: list[SchemaProblem] = []
    for error in cls(schema).iter_errors(instance):
        value = error.validator_value
        problems.append(SchemaProblem(
            tuple(error.absolute_path), str(error.validator),
            value if isinstance(value, (str, int, float, bool, list, type(None))) else None,
            error.message,
        ))
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def _serve(conn: Connection) -> None:
    """The worker's loop: one job at a time, answers as plain data."""
    _limit_memory()
    import jsonschema  # noqa: F401  (import before saying ready: the clock starts after)

    conn.send(("ready", None))
    while True:
        try:
            kind, schema, instance = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result: Any = _check(schema) if kind == "check" else _validate(schema, instance)
            conn.send(("ok", result))
        except MemoryError:
            conn.send(("error", "the schema needs more memory than allowed"))
        except RecursionError:
            conn.send(("error", "the schema nests or refers to itself too deeply"))
        except Exception as exc:  # a schema jsonschema cannot handle, e.g. a bad $ref
            conn.send(("error", f"{type(exc).__name__}: {str(exc)[:300]}"))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_serve, args=(child,), name="wasmhub-schema", daemon=True
        )
        self.process.start()
        child.close()
        if not self.conn.poll(WORKER_START_SECONDS):
            self.kill()
            raise SchemaEvaluatorBusy("the schema evaluator did not start in time")
        self.conn.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class SchemaEvaluator:
    """Evaluates untrusted schemas in worker processes, each call bounded by ``timeout``."""

    def __init__(self, timeout: float, workers: int = 2) -> None:
        self.timeout = timeout
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; its process starts on first use
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def check_schema(self, schema: Any) -> str | None:
        """None when ``schema`` is a usable JSON Schema, else why not."""
        result: str | None = self._run("check", schema, None)
        return result

    def validate(self, schema: Any, instance: Any) -> list[SchemaProblem]:
        """Every violation of ``schema`` by ``instance`` (at most MAX_PROBLEMS)."""
        result: list[SchemaProblem] = self._run("validate", schema, instance)
        return result

    def _run(self, kind: str, schema: Any, instance: Any) -> Any:
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise SchemaEvaluatorBusy(
                "every config schema evaluator is busy; try again in a moment"
            ) from None
        try:
            if worker is None or not worker.process.is_alive():
                worker = self._start()
            worker.conn.send((kind, schema, instance))
            deadline = time.monotonic() + self.timeout
            if not worker.conn.poll(max(deadline - time.monotonic(), 0)):
                self._discard(worker)
                worker = None
                raise SchemaEvaluationError(
                    f"the plugin's config schema took longer than {self.timeout:g} s to "
                    "evaluate (a pattern that backtracks, or a very large input); "
                    "it was stopped",
                    detail={"limit_seconds": self.timeout},
                )
            status, value = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            if worker is not None:
                self._discard(worker)
            worker = None
            raise SchemaEvaluationError(
                "the plugin's config schema could not be evaluated within its limits"
            ) from None
        finally:
            self._idle.put(worker)
        if status == "error":
            raise SchemaEvaluationError(f"the config schema cannot be evaluated: {value}")
        return value

    def _start(self) -> _Worker:
        worker = _Worker()
        with self._lock:
            self._all.append(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        log.warning("config schema evaluation exceeded its limit; worker %s stopped",
                    worker.process.pid)
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.kill()
