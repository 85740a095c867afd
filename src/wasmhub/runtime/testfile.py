"""The declarative test-file format (``wasmhub test FILE.yaml``), validated with pydantic.

Owns the schema (documented in docs/testing-filters.md and docs/interfaces.md §3) and its
loading: YAML errors and schema errors become :class:`TestFileError` naming the field
(``cases[2].expect.status: Input should be a valid integer``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wasmhub.runtime.abi import LogLevel
from wasmhub.runtime.errors import TestFileError
from wasmhub.runtime.model import FailStrategy

Headers = dict[str, str] | list[tuple[str, str]]
MetricValue = int | list[int]


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(key).lower(), str(value)) for key, value in items]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestSpec(_Strict):
    method: str = "GET"
    path: str = "/"
    authority: str = "example.com"
    scheme: str = "http"
    headers: Headers = Field(default_factory=dict)
    body: str = ""
    body_chunks: list[str] | None = None
    trailers: Headers = Field(default_factory=dict)


class ResponseSpec(_Strict):
    status: Annotated[int, Field(ge=100, le=999)] = 200
    headers: Headers = Field(default_factory=dict)
    body: str = ""
    body_chunks: list[str] | None = None
    trailers: Headers = Field(default_factory=dict)


class HttpCallSpec(_Strict):
    cluster: str
    response: ResponseSpec = Field(default_factory=ResponseSpec)
    fail: bool = False


class GrpcCallSpec(_Strict):
    cluster: str
    service: str | None = None
    method: str | None = None
    status: int = 0
    status_message: str = ""
    messages: list[str] = Field(default_factory=list)
    initial_metadata: Headers = Field(default_factory=dict)
    trailing_metadata: Headers = Field(default_factory=dict)


class CallExpect(_Strict):
    cluster: str
    headers: dict[str, str] = Field(default_factory=dict)
    body_contains: str | None = None


class ExpectSpec(_Strict):
    status: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_absent: list[str] = Field(default_factory=list)
    body: str | None = None
    body_contains: str | None = None
    body_matches: str | None = None
    trailers: dict[str, str] = Field(default_factory=dict)
    upstream_headers: dict[str, str] = Field(default_factory=dict)
    upstream_headers_absent: list[str] = Field(default_factory=list)
    upstream_body: str | None = None
    upstream_body_contains: str | None = None
    reached_upstream: bool | None = None
    local_reply: bool | None = None
    reset: bool | None = None
    stalled: bool | None = None
    logs_contain: list[str] = Field(default_factory=list)
    logs_absent: list[str] = Field(default_factory=list)
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    http_calls: list[CallExpect] | None = None
    plugin_failed: bool | None = None
    failure_contains: str | None = None


class ConnectionSpec(_Strict):
    downstream: list[str] = Field(default_factory=list)
    upstream: list[str] = Field(default_factory=list)
    close: bool = True


class ConnectionExpect(_Strict):
    upstream_data: str | None = None
    downstream_data: str | None = None
    closed: bool | None = None


class CaseSpec(_Strict):
    name: str
    advance_ms: Annotated[int, Field(ge=0)] = 0
    repeat: Annotated[int, Field(ge=1)] = 1
    request: RequestSpec | None = None
    upstream: ResponseSpec = Field(default_factory=ResponseSpec)
    http_calls: list[HttpCallSpec] = Field(default_factory=list)
    grpc_calls: list[GrpcCallSpec] = Field(default_factory=list)
    connection: ConnectionSpec | None = None
    expect: ExpectSpec = Field(default_factory=ExpectSpec)
    expect_connection: ConnectionExpect = Field(default_factory=ConnectionExpect)


class TestFile(_Strict):
    module: str | None = None
    root_id: str = ""
    vm_id: str = ""
    plugin_name: str = "wasmhub-plugin"
    plugin_config: dict[str, Any] | list[Any] | str | None = None
    vm_config: dict[str, Any] | list[Any] | str | None = None
    vm_env: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    fail_strategy: FailStrategy = FailStrategy.FAIL_CLOSED
    timeout_ms: Annotated[float, Field(gt=0)] = 1000.0
    memory_limit_mb: Annotated[int, Field(ge=1, le=4096)] = 1024
    log_level: str = "trace"
    cases: Annotated[list[CaseSpec], Field(min_length=1)]

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LogLevel.__members__:
            names = ", ".join(level.name.lower() for level in LogLevel)
            raise ValueError(f"unknown log level {value!r}; use one of {names}")
        return value.lower()

    @field_validator("vm_env", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value


def config_bytes(value: dict[str, Any] | list[Any] | str | None) -> bytes:
    """A mapping or list becomes JSON text; a string is used as is."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_test_file(data: Any, *, source: str = "test file") -> TestFile:
    if not isinstance(data, dict):
        raise TestFileError(f"{source}: the top level must be a mapping with 'cases'")
    try:
        return TestFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise TestFileError(
            f"{source}: {_location(tuple(first['loc']))}: {first['msg']}{extra}",
            detail=[{"field": _location(tuple(e["loc"])), "message": e["msg"]}
                    for e in exc.errors()],
        ) from None


def load_test_file(path: Path) -> TestFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TestFileError(f"cannot read test file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TestFileError(f"{path}: not valid YAML: {exc}") from exc
    return parse_test_file(data, source=str(path))
