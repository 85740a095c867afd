"""Envoy's CEL foreign functions: ``expr_create``, ``expr_evaluate``, ``expr_delete``.

Reached through ``proxy_call_foreign_function`` (see hostcalls_calls), with Envoy's wire
format and status codes (source/extensions/common/wasm/foreign.cc):

- ``expr_create``: the argument is the expression's text; the result is a 4-byte
  little-endian token. A parse error, or an expression the planner refuses (a function
  outside CEL's standard library, a message construction), is BAD_ARGUMENT. Tokens are
  per root context and count up from 0, skipping tokens in use.
- ``expr_evaluate``: the argument is the 4-byte token (another size: BAD_ARGUMENT; an
  unknown token: NOT_FOUND). The expression is evaluated against the current context's
  attributes; an evaluation error (a missing attribute, no matching overload, ...) is
  INTERNAL_FAILURE. The value is serialised as Envoy's ``serializeValue`` does: strings
  and bytes raw, int/uint/double 8 bytes little-endian, bool 1 byte, timestamps and
  durations int64 nanoseconds, maps and lists in the header-map pair format (a list's
  elements as keys with empty values); a value with no serialisation (null, a type) is
  SERIALIZATION_FAILURE.
- ``expr_delete``: the 4-byte token (another size: BAD_ARGUMENT); OK whether or not the
  token exists.

The attributes (``request.*``, ``response.*``, ``source.*``, ``destination.*``,
``connection.*``, ``upstream.*``, ``metadata``, ``filter_state``, ``plugin_*``, ...) are
the values ``proxy_get_property`` returns for the same paths (hostcalls_props
``lookup_property``), typed as Envoy's CEL vocabulary types them; values the plugin set
with ``proxy_set_property`` are bytes, as Envoy's filter state holds them.

Evaluation is bounded: an expression's text by cel-cpp's default size limit (Envoy uses
the defaults), its evaluation by the per-callback deadline (``callback_timeout_ms``),
checked at every step of the interpreter; past it the call is INTERNAL_FAILURE and a
host log line says why. The interpreter is cel-python (``celpy``), pure Python.
"""

from __future__ import annotations

import datetime
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import (
    Activation,
    CELEvalError,
    CELUnsupportedError,
    Evaluator,
    base_functions,
)

from wasmhub.runtime.abi import LogLevel, Status
from wasmhub.runtime.contexts import Context, HeaderMap
from wasmhub.runtime.hostcalls_props import lookup_property, root_of
from wasmhub.runtime.memory import serialize_pairs

if TYPE_CHECKING:
    from wasmhub.runtime.vm import PluginVM

Tree = lark.Tree[Any]

# cel-cpp's default expression_size_codepoint_limit (Envoy keeps the parser defaults).
MAX_EXPRESSION_CODEPOINTS = 100_000
_MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter", "dyn"})
_FUNCTIONS = frozenset(base_functions) | _MACROS


class Kind(Enum):
    STRING = "string"
    INT = "int"
    UINT = "uint"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    MAP = "map"
    ANY = "any"


S, N, U, B, T, D, M, A = (Kind.STRING, Kind.INT, Kind.UINT, Kind.BOOL, Kind.TIMESTAMP,
                          Kind.DURATION, Kind.MAP, Kind.ANY)
_TLS = {"tls_version": S, "subject_local_certificate": S, "subject_peer_certificate": S,
        "dns_san_local_certificate": S, "dns_san_peer_certificate": S,
        "uri_san_local_certificate": S, "uri_san_peer_certificate": S,
        "sha256_peer_certificate_digest": S}

# Envoy's attribute vocabulary (docs: "Attributes") and the CEL type of each attribute.
VOCABULARY: dict[str, dict[str, Kind]] = {
    "request": {"path": S, "url_path": S, "host": S, "scheme": S, "method": S,
                "headers": M, "referer": S, "useragent": S, "time": T, "id": S,
                "protocol": S, "query": S, "duration": D, "size": N, "total_size": N},
    "response": {"code": N, "code_details": S, "flags": N, "grpc_status": N,
                 "headers": M, "trailers": M, "size": N, "total_size": N},
    "source": {"address": S, "port": N},
    "destination": {"address": S, "port": N},
    "connection": {"id": U, "mtls": B, "requested_server_name": S,
                   "termination_details": S, **_TLS},
    "upstream": {"address": S, "port": N, "local_address": S,
                 "transport_failure_reason": S, **_TLS},
    "xds": {"cluster_name": S, "cluster_metadata": A, "route_name": S,
            "route_metadata": A, "upstream_host_metadata": A, "filter_chain_name": S},
    "node": {"id": S, "cluster": S, "metadata": A},
}
TOP_LEVEL: dict[str, Kind] = {"plugin_name": S, "plugin_root_id": S, "plugin_vm_id": S,
                              "listener_direction": N, "cluster_name": S, "route_name": S,
                              "metadata": A, "filter_state": A}


class EvaluationTimeout(Exception):
    """The per-callback deadline passed during an evaluation."""


class _BoundedEvaluator(Evaluator):
    """celpy's interpreter, stopped at ``deadline`` (time.monotonic()): every node it
    visits, in the expression and in macro bodies, checks the clock."""

    def __init__(self, ast: Tree, activation: Activation, deadline: float) -> None:
        super().__init__(ast, activation)
        self.deadline = deadline

    def visit_children(self, tree: Tree) -> list[Any]:
        if time.monotonic() > self.deadline:
            raise EvaluationTimeout
        return super().visit_children(tree)

    def sub_evaluator(self, ast: Tree) -> Evaluator:
        return _BoundedEvaluator(ast, self.activation, self.deadline)


def _refusal(tree: Tree) -> str | None:
    """Why cel-cpp's planner (as Envoy builds it: the standard functions, no message
    types here) refuses a parsed expression; None when it plans."""
    for node in tree.iter_subtrees():
        kind = node.data
        if kind == "member_object" and isinstance(node.children[0], lark.Tree) and \
                node.children[0].data != "primary":
            return "message construction: no message types are known to this host"
        name: Any = None
        if kind in ("ident_arg", "dot_ident_arg"):
            name = node.children[0]
        elif kind == "member_dot_arg":
            name = node.children[1]
        if name is not None and str(name) not in _FUNCTIONS:
            return f"no overloads for function {str(name)!r}"
    return None


# -- attributes -------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _header_map(headers: HeaderMap) -> celtypes.MapType:
    names = dict.fromkeys(name for name, _ in headers.pairs)
    return celtypes.MapType({celtypes.StringType(_text(name)):
                             celtypes.StringType(_text(headers.get(name) or b""))
                             for name in names})


def to_cel(value: Any, kind: Kind = Kind.ANY) -> Any:
    """A property value (as lookup_property returns it) as the CEL value of ``kind``."""
    if isinstance(value, HeaderMap):
        return _header_map(value)
    if kind is Kind.STRING and isinstance(value, bytes | str):
        return celtypes.StringType(_text(value))
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        if kind is Kind.UINT:
            return celtypes.UintType(value & 0xFFFFFFFFFFFFFFFF)
        if kind is Kind.TIMESTAMP:
            seconds, nanos = divmod(value, 1_000_000_000)
            moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
            return celtypes.TimestampType(moment + datetime.timedelta(microseconds=nanos // 1000))
        if kind is Kind.DURATION:
            seconds, nanos = divmod(value, 1_000_000_000)
            return celtypes.DurationType(seconds=seconds, nanos=nanos)
        return celtypes.IntType(value)
    if isinstance(value, bytes):
        return celtypes.BytesType(value)
    return json_to_cel(value)


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` of a nested dict (a plain value in the way is
    replaced by a map)."""
    *parents, last = path.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _as_cel_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return celtypes.MapType({celtypes.StringType(key): _as_cel_tree(value)
                                 for key, value in node.items()})
    return node


def attributes(vm: PluginVM, ctx: Context) -> dict[str, Any]:
    """The activation of an evaluation on ``ctx``: every vocabulary attribute the
    property lookup has a value for, and every declared or plugin-set property path."""
    tree: dict[str, Any] = {}
    for prefix, fields in VOCABULARY.items():
        for name, kind in fields.items():
            value = lookup_property(vm, ctx, f"{prefix}.{name}")
            if value is not None:
                _put(tree, f"{prefix}.{name}", to_cel(value, kind))
    for name, kind in TOP_LEVEL.items():
        value = lookup_property(vm, ctx, name)
        if value is not None:
            tree[name] = to_cel(value, kind)
    root = root_of(vm, ctx)
    layers = [vm.config.properties,
              root.properties if root is not None and root is not ctx else {},
              ctx.properties]
    for layer in layers:  # in lookup_property's order of precedence, the first last
        for path, value in layer.items():
            if value is not None:
                _put(tree, path, to_cel(value))
    return {name: _as_cel_tree(value) for name, value in tree.items()}


# -- results ----------------------------------------------------------------------------


class _Unserialisable(Exception):
    pass


def serialise(value: Any) -> bytes:
    """Envoy's serializeValue for a CEL value; raises _Unserialisable for a value it has
    no encoding for."""
    # celpy's operators sometimes answer plain Python values (str, int, ...): the checks
    # go by the Python base types, the CEL-specific ones (bool, uint) first.
    if isinstance(value, celtypes.BoolType | bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, celtypes.UintType):
        return struct.pack("<Q", int(value))
    if isinstance(value, int):
        return struct.pack("<q", int(value))
    if isinstance(value, float):
        return struct.pack("<d", float(value))
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime.timedelta):
        return struct.pack("<q", _nanos(value))
    if isinstance(value, datetime.datetime):
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return struct.pack("<q", _nanos(value - epoch))
    if isinstance(value, dict):
        return serialize_pairs([(serialise(k), serialise(v)) for k, v in value.items()])
    if isinstance(value, list):
        return serialize_pairs([(serialise(item), b"") for item in value])
    raise _Unserialisable(type(value).__name__)


def _nanos(delta: datetime.timedelta) -> int:
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


# -- the foreign functions --------------------------------------------------------------


@dataclass
class _Expressions:
    """One root context's compiled expressions (Envoy's per-root "cel" foreign data)."""

    next_token: int = 0
    programs: dict[int, Tree] = field(default_factory=dict)

    def new_token(self) -> int:
        token = self.next_token
        while token in self.programs:
            token = (token + 1) & 0xFFFFFFFF
        self.next_token = (token + 1) & 0xFFFFFFFF
        return token


ForeignFunction = Callable[[bytes], tuple[int, bytes | None]]


class CelHost:
    """The three foreign functions of one plugin VM."""

    def __init__(self, vm: PluginVM) -> None:
        self.vm = vm
        self.environment = celpy.Environment()
        self.tables: dict[int, _Expressions] = {}

    def functions(self) -> dict[str, ForeignFunction]:
        return {"expr_create": self.create, "expr_evaluate": self.evaluate,
                "expr_delete": self.delete}

    def _table(self) -> _Expressions:
        ctx = self.vm.current
        root = root_of(self.vm, ctx)
        key = root.id if root is not None else ctx.id
        return self.tables.setdefault(key, _Expressions())

    def _note(self, message: str, level: LogLevel = LogLevel.INFO) -> None:
        self.vm.log(level, message, self.vm.current.id, "host")

    def create(self, argument: bytes) -> tuple[int, bytes | None]:
        text = argument.decode("utf-8", "replace")
        if len(text) > MAX_EXPRESSION_CODEPOINTS:
            self._note(f"expr_create parse error: expression exceeds "
                       f"{MAX_EXPRESSION_CODEPOINTS} code points")
            return Status.BAD_ARGUMENT, None
        try:
            ast = self.environment.compile(text)
        except (CELParseError, RecursionError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._note(f"expr_create parse error: {first}")
            return Status.BAD_ARGUMENT, None
        refusal = _refusal(ast)
        if refusal is not None:
            self._note(f"expr_create compile error: {refusal}")
            return Status.BAD_ARGUMENT, None
        table = self._table()
        token = table.new_token()
        table.programs[token] = ast
        return Status.OK, struct.pack("<I", token)

    def _token(self, argument: bytes) -> int | None:
        return struct.unpack("<I", argument)[0] if len(argument) == 4 else None

    def evaluate(self, argument: bytes) -> tuple[int, bytes | None]:
        table = self._table()
        token = self._token(argument)
        if token is None:
            return Status.BAD_ARGUMENT, None
        ast = table.programs.get(token)
        if ast is None:
            return Status.NOT_FOUND, None
        vm = self.vm
        deadline = time.monotonic() + vm.config.callback_timeout_ms / 1000
        activation = Activation(package=self.environment.package,
                                annotations=self.environment.annotations)
        try:
            value = _BoundedEvaluator(ast, activation, deadline).evaluate(
                attributes(vm, vm.current))
        except EvaluationTimeout:
            self._note(f"expr_evaluate stopped at the callback deadline "
                       f"({vm.config.callback_timeout_ms:g} ms): INTERNAL_FAILURE",
                       LogLevel.WARN)
            return Status.INTERNAL_FAILURE, None
        except (CELEvalError, CELUnsupportedError, ArithmeticError, LookupError, TypeError,
                ValueError, RecursionError) as exc:
            self._note(f"expr_evaluate error: {_first_line(exc)}", LogLevel.DEBUG)
            return Status.INTERNAL_FAILURE, None
        try:
            return Status.OK, serialise(value)
        except _Unserialisable:
            return Status.SERIALIZATION_FAILURE, None

    def delete(self, argument: bytes) -> tuple[int, bytes | None]:
        table = self._table()
        token = self._token(argument)
        if token is None:
            return Status.BAD_ARGUMENT, None
        table.programs.pop(token, None)
        return Status.OK, None


def _first_line(exc: BaseException) -> str:
    lines: Iterator[str] = iter(str(exc).splitlines())
    return next(lines, type(exc).__name__)
