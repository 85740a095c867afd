"""JSON Schema → HTML form model → pluginConfig JSON, with no I/O and no templates.

This module owns three steps of the plugin page's config editor:

1. :func:`build_form` turns a plugin's config schema (JSON Schema / OpenAPI v3 subset)
   into a tree of :class:`FormField` the templates render: strings, numbers, integers,
   booleans, enums (a select), arrays of scalars (one item per line), nested objects
   (a fieldset), and a raw-JSON textarea for anything else (``oneOf``, arrays of objects).
   Values come from the example config first, then the schema's defaults.
2. :func:`parse_form` reads the submitted form back into a config dict, coercing text to
   the schema's types and reporting what cannot be coerced per field.
3. :func:`validate_config` validates the dict against the schema (in the bounded
   evaluator of :mod:`wasmhub.config_schema`: the schema is untrusted) and maps each
   error to the form field it belongs to.

Field names are JSON pointers under a ``cfg`` prefix (``cfg/limits/burst``) so any key,
including ones with dots or slashes, round-trips; ``static/wasmhub.js`` reads the same
names and ``data-kind`` attributes to build the JSON in the browser.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wasmhub.config_schema import SchemaEvaluationError, SchemaEvaluator, SchemaProblem

PREFIX = "cfg"
_MAX_DEPTH = 8


class FieldKind(StrEnum):
    STRING = "string"
    TEXT = "text"  # a string whose schema asks for multiple lines (format: textarea)
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUM = "enum"
    LIST = "list"  # array of scalars, one per line
    OBJECT = "object"
    JSON = "json"  # anything the form cannot model: edited as JSON text


@dataclass(frozen=True)
class FieldError:
    """One problem with the submitted config, tied to a form field name ("" = whole form)."""

    name: str
    message: str


@dataclass(frozen=True)
class FormField:
    """One input (or fieldset, for objects) of the generated form."""

    name: str  # the HTML name: "cfg" + JSON pointer
    key: str  # the property name in its parent object ("" for the root)
    kind: FieldKind
    label: str
    description: str = ""
    required: bool = False
    default: Any = None
    value: Any = None  # prefilled value (example config, else default); JSON for JSON kind
    enum: tuple[Any, ...] = ()
    item_kind: FieldKind | None = None  # LIST items: STRING, NUMBER, INTEGER
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    placeholder: str = ""
    children: tuple[FormField, ...] = field(default_factory=tuple)

    @property
    def html_id(self) -> str:
        """A stable, HTML-safe id derived from the name."""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group()):x}", self.name)

    @property
    def text_value(self) -> str:
        """The value as the text an input or textarea shows."""
        return display_text(self.kind, self.value)

    def walk(self) -> Iterable[FormField]:
        yield self
        for child in self.children:
            yield from child.walk()


def pointer_name(path: Sequence[str | int]) -> str:
    """``("a", "b/c")`` → ``"cfg/a/b~1c"`` (RFC 6901 escaping)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/".join([PREFIX, *parts])


def display_text(kind: FieldKind, value: Any) -> str:
    if value is None:
        return ""
    if kind is FieldKind.LIST and isinstance(value, list):
        return "\n".join(_scalar_text(v) for v in value)
    if kind is FieldKind.JSON:
        return json.dumps(value, indent=2, ensure_ascii=False)
    if kind is FieldKind.BOOLEAN:
        return "true" if value else "false"
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class _Resolver:
    """Follows local ``$ref`` pointers (``#/definitions/x``, ``#/$defs/x``)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Any, depth: int = 0) -> Mapping[str, Any]:
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#") and depth < _MAX_DEPTH:
            target: Any = self.root
            for raw in ref[1:].split("/")[1:]:
                part = raw.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
            return {**self.resolve(target, depth + 1), **{k: v for k, v in schema.items()
                                                             if k != "$ref"}}
        return schema


def schema_type(schema: Mapping[str, Any]) -> str | None:
    """The schema's single non-null type; guessed from ``properties``/``items`` if absent."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _kind_of(schema: Mapping[str, Any], resolver: _Resolver) -> tuple[FieldKind, FieldKind | None]:
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return FieldKind.ENUM, None
    if any(k in schema for k in ("oneOf", "anyOf", "allOf")):
        return FieldKind.JSON, None
    kind = schema_type(schema)
    if kind == "string":
        multiline = schema.get("format") == "textarea" or schema.get("x-multiline") is True
        return (FieldKind.TEXT if multiline else FieldKind.STRING), None
    if kind in ("number", "integer", "boolean"):
        return FieldKind(kind), None
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        return FieldKind.OBJECT, None
    if kind == "array":
        items = resolver.resolve(schema.get("items"))
        item_type = schema_type(items)
        if item_type in ("string", "number", "integer") and "enum" not in items:
            return FieldKind.LIST, FieldKind(item_type)
    return FieldKind.JSON, None


def build_form(
    schema: Mapping[str, Any], values: Mapping[str, Any] | None = None
) -> FormField:
    """The root fieldset for ``schema``, prefilled with ``values`` (else defaults).

    A root schema that is not an object with properties yields a single JSON field.
    """
    resolver = _Resolver(schema)
    return _build(resolver, resolver.resolve(schema), (), "", True, values, 0)


def _build(
    resolver: _Resolver,
    schema: Mapping[str, Any],
    path: tuple[str, ...],
    key: str,
    required: bool,
    value: Any,
    depth: int,
) -> FormField:
    kind, item_kind = _kind_of(schema, resolver)
    if depth >= _MAX_DEPTH and kind is FieldKind.OBJECT:
        kind = FieldKind.JSON
    default = schema.get("default")
    if value is None and default is not None:
        value = default
    children: tuple[FormField, ...] = ()
    if kind is FieldKind.OBJECT:
        props: Mapping[str, Any] = schema.get("properties") or {}
        required_keys = set(schema.get("required") or [])
        current = value if isinstance(value, Mapping) else {}
        children = tuple(
            _build(resolver, resolver.resolve(sub), (*path, name), name,
                   name in required_keys, current.get(name), depth + 1)
            for name, sub in props.items()
        )
        value = None
    examples = schema.get("examples")
    placeholder = schema.get("example", examples[0] if isinstance(examples, list)
                             and examples else "")
    return FormField(
        name=pointer_name(path),
        key=key,
        kind=kind,
        label=str(schema.get("title") or key or ""),
        description=str(schema.get("description") or ""),
        required=required,
        default=default,
        value=value,
        enum=tuple(schema.get("enum") or ()),
        item_kind=item_kind,
        minimum=_num(schema.get("minimum")),
        maximum=_num(schema.get("maximum")),
        min_length=_int(schema.get("minLength")),
        max_length=_int(schema.get("maxLength")),
        pattern=schema.get("pattern") if isinstance(schema.get("pattern"), str) else None,
        placeholder=_scalar_text(placeholder) if placeholder != "" else "",
        children=children,
    )


def _num(value: Any) -> float | None:
    # Kept as given (an int stays an int) so the HTML shows min="1", not min="1.0".
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def enum_token(value: Any) -> str:
    """The ``<option value>`` for an enum member: JSON text, so types survive the trip."""
    return json.dumps(value, ensure_ascii=False)


def parse_form(
    form: FormField, data: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any], list[FieldError]]:
    """Read submitted form data (name → all values) back into a config object."""
    errors: list[FieldError] = []
    if form.kind is not FieldKind.OBJECT:
        value = _parse_leaf(form, data.get(form.name, []), errors)
        if value is not None and not isinstance(value, dict):
            errors.append(FieldError(form.name, "The configuration must be a JSON object."))
            return {}, errors
        return (value or {}), errors
    result = _parse_object(form, data, errors)
    return (result or {}), errors


def _parse_object(
    form: FormField, data: Mapping[str, Sequence[str]], errors: list[FieldError]
) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for child in form.children:
        if child.kind is FieldKind.OBJECT:
            value: Any = _parse_object(child, data, errors)
        else:
            value = _parse_leaf(child, data.get(child.name, []), errors)
        if value is not None:
            out[child.key] = value
    return out or None


def _parse_leaf(field_: FormField, raw: Sequence[str], errors: list[FieldError]) -> Any:
    # A checkbox posts a hidden "false" followed by "true" when ticked: the last one wins.
    text = raw[-1] if raw else ""
    kind = field_.kind
    if kind is FieldKind.BOOLEAN:
        return None if text == "" else text == "true"
    if kind is FieldKind.ENUM:
        if text == "":
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind in (FieldKind.STRING, FieldKind.TEXT):
        return text if text != "" else None
    if kind in (FieldKind.NUMBER, FieldKind.INTEGER):
        return _parse_number(field_.name, text.strip(), kind, errors)
    if kind is FieldKind.LIST:
        lines = [line.strip() for line in text.splitlines()]
        items = [line for line in lines if line]
        if not items:
            return None
        if field_.item_kind in (FieldKind.NUMBER, FieldKind.INTEGER):
            parsed = [_parse_number(field_.name, item, field_.item_kind, errors) for item in items]
            return [p for p in parsed if p is not None]
        return items
    if text.strip() == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(FieldError(field_.name, f"Not valid JSON: {exc.msg} (line {exc.lineno})."))
        return None


def _parse_number(
    name: str, text: str, kind: FieldKind, errors: list[FieldError]
) -> int | float | None:
    if text == "":
        return None
    try:
        if kind is FieldKind.INTEGER:
            return int(text)
        number = float(text)
    except ValueError:
        what = "a whole number" if kind is FieldKind.INTEGER else "a number"
        errors.append(FieldError(name, f"{text!r} is not {what}."))
        return None
    if not math.isfinite(number):
        errors.append(FieldError(name, f"{text!r} is not a finite number."))
        return None
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() \
        else number


def validate_config(
    evaluator: SchemaEvaluator, schema: Mapping[str, Any], config: Any
) -> list[FieldError]:
    """Every schema violation of ``config``, each tied to the field it concerns.

    The schema is the plugin author's: it is evaluated by ``evaluator`` (worker
    processes, bounded in time), never here. "Required" errors point at the missing
    property's own field, not its parent.
    """
    try:
        problems = evaluator.validate(dict(schema), config)
    except SchemaEvaluationError as exc:
        return [FieldError(PREFIX, exc.message[:1].upper() + exc.message[1:] + ".")]
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for problem in sorted(problems, key=lambda e: [str(p) for p in e.path]):
        path = [str(p) for p in problem.path]
        if problem.keyword == "required" and isinstance(problem.keyword_value, list):
            missing = _missing_property(problem)
            if missing is not None:
                path = [*path, missing]
        item = FieldError(pointer_name(_field_path(path)), _message(problem))
        if (item.name, item.message) not in seen:
            seen.add((item.name, item.message))
            errors.append(item)
    return errors


def _field_path(path: list[str]) -> list[str]:
    # List fields are edited as one textarea: an error on item 3 belongs to the list.
    return [p for p in path if not p.isdigit()]


def _missing_property(problem: SchemaProblem) -> str | None:
    match = re.match(r"^'(.+)' is a required property$", problem.message)
    return match.group(1) if match else None


def _message(problem: SchemaProblem) -> str:
    if problem.keyword == "required":
        return "This field is required."
    if problem.keyword == "enum":
        choices = problem.keyword_value if isinstance(problem.keyword_value, list) else []
        return "Choose one of: " + ", ".join(_scalar_text(v) for v in choices) + "."
    message = problem.message
    if problem.keyword == "additionalProperties":
        return message
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def errors_by_name(errors: Iterable[FieldError]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for error in errors:
        grouped.setdefault(error.name, []).append(error.message)
    return grouped


def check_schema(evaluator: SchemaEvaluator, schema: Any) -> str | None:
    """None when ``schema`` is a usable JSON Schema, else why not (shown instead of a form)."""
    if not isinstance(schema, Mapping):
        return "The config schema is not a JSON object."
    try:
        return evaluator.check_schema(dict(schema))
    except SchemaEvaluationError as exc:
        return exc.message[:1].upper() + exc.message[1:] + "."
