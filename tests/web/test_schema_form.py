"""JSON Schema → form → config: every type, required, defaults, nesting, enums, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wasmhub.config_schema import SchemaEvaluator
from wasmhub.web.schema_form import (
    FieldKind,
    build_form,
    check_schema,
    enum_token,
    errors_by_name,
    parse_form,
    pointer_name,
    validate_config,
)


@pytest.fixture(scope="module")
def evaluator() -> Iterator[SchemaEvaluator]:
    bounded = SchemaEvaluator(timeout=60.0, workers=1)
    yield bounded
    bounded.close()


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["header", "mode"],
    "properties": {
        "header": {"type": "string", "title": "Header", "description": "Name", "minLength": 2},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "limit": {"type": "integer", "default": 10, "minimum": 1},
        "enabled": {"type": "boolean", "default": True},
        "mode": {"enum": ["append", "overwrite", 3]},
        "hosts": {"type": "array", "items": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "rules": {"type": "array", "items": {"type": "object"}},
        "upstream": {
            "type": "object",
            "required": ["cluster"],
            "properties": {
                "cluster": {"type": "string"},
                "retry": {"type": "object", "properties": {"times": {"type": "integer"}}},
            },
        },
        "a/b.c": {"type": ["string", "null"]},
    },
}


def by_key(form: Any) -> dict[str, Any]:
    return {f.key: f for f in form.walk() if f.key}


def submit(form: Any, **values: str | list[str]) -> dict[str, list[str]]:
    return {pointer_name(k.split("__")): v if isinstance(v, list) else [v]
            for k, v in values.items()}


def test_every_type_maps_to_a_field_kind() -> None:
    fields = by_key(build_form(SCHEMA))
    assert fields["header"].kind is FieldKind.STRING
    assert fields["ratio"].kind is FieldKind.NUMBER
    assert fields["limit"].kind is FieldKind.INTEGER
    assert fields["enabled"].kind is FieldKind.BOOLEAN
    assert fields["mode"].kind is FieldKind.ENUM
    assert fields["mode"].enum == ("append", "overwrite", 3)
    assert fields["hosts"].kind is FieldKind.LIST and fields["hosts"].item_kind is FieldKind.STRING
    assert fields["ports"].item_kind is FieldKind.INTEGER
    assert fields["rules"].kind is FieldKind.JSON
    assert fields["upstream"].kind is FieldKind.OBJECT
    assert [c.key for c in fields["upstream"].children] == ["cluster", "retry"]
    assert fields["retry"].kind is FieldKind.OBJECT
    assert fields["a/b.c"].kind is FieldKind.STRING  # nullable string


def test_required_labels_descriptions_and_constraints() -> None:
    fields = by_key(build_form(SCHEMA))
    assert fields["header"].required and fields["mode"].required
    assert not fields["limit"].required
    assert fields["cluster"].required  # required within its (optional) object
    assert fields["header"].label == "Header" and fields["header"].description == "Name"
    assert fields["limit"].label == "limit"
    assert fields["ratio"].minimum == 0 and fields["ratio"].maximum == 1
    assert fields["header"].min_length == 2


def test_defaults_prefill_and_example_values_win() -> None:
    fields = by_key(build_form(SCHEMA))
    assert fields["limit"].text_value == "10"
    assert fields["enabled"].text_value == "true"
    example = {"limit": 5, "hosts": ["a.com", "b.com"], "upstream": {"cluster": "auth"},
               "rules": [{"x": 1}]}
    fields = by_key(build_form(SCHEMA, example))
    assert fields["limit"].text_value == "5"
    assert fields["hosts"].text_value == "a.com\nb.com"
    assert fields["cluster"].text_value == "auth"
    assert '"x": 1' in fields["rules"].text_value


def test_names_are_json_pointers_that_round_trip_odd_keys() -> None:
    fields = by_key(build_form(SCHEMA))
    assert fields["a/b.c"].name == "cfg/a~1b.c"
    assert fields["times"].name == "cfg/upstream/retry/times"
    form = build_form(SCHEMA)
    config, errors = parse_form(form, {"cfg/a~1b.c": ["v"]})
    assert config == {"a/b.c": "v"} and errors == []


def test_parse_coerces_each_type(evaluator: SchemaEvaluator) -> None:
    form = build_form(SCHEMA)
    data = {
        "cfg/header": ["x-hello"], "cfg/ratio": ["0.5"], "cfg/limit": ["7"],
        "cfg/enabled": ["false", "true"], "cfg/mode": [enum_token(3)],
        "cfg/hosts": ["a.com\n\n b.com \n"], "cfg/ports": ["80\n443"],
        "cfg/rules": ['[{"path": "/"}]'], "cfg/upstream/cluster": ["auth"],
        "cfg/upstream/retry/times": [""],
    }
    config, errors = parse_form(form, data)
    assert errors == []
    assert config == {
        "header": "x-hello", "ratio": 0.5, "limit": 7, "enabled": True, "mode": 3,
        "hosts": ["a.com", "b.com"], "ports": [80, 443], "rules": [{"path": "/"}],
        "upstream": {"cluster": "auth"},
    }
    assert validate_config(evaluator, SCHEMA, {**config, "mode": "append"}) == []


def test_unticked_checkbox_is_false_and_empty_optionals_are_omitted() -> None:
    form = build_form(SCHEMA)
    config, _ = parse_form(form, {"cfg/header": ["hh"], "cfg/mode": ['"append"'],
                                  "cfg/enabled": ["false"], "cfg/limit": [""]})
    assert config == {"header": "hh", "mode": "append", "enabled": False}


def test_coercion_errors_point_at_their_field() -> None:
    form = build_form(SCHEMA)
    _, errors = parse_form(form, {"cfg/limit": ["ten"], "cfg/ratio": ["nan"],
                                  "cfg/rules": ["[oops"], "cfg/ports": ["80\nx"]})
    grouped = errors_by_name(errors)
    assert set(grouped) == {"cfg/limit", "cfg/ratio", "cfg/rules", "cfg/ports"}
    assert "whole number" in grouped["cfg/limit"][0]
    assert "Not valid JSON" in grouped["cfg/rules"][0]


def test_validation_errors_map_to_fields(evaluator: SchemaEvaluator) -> None:
    config = {"header": "x", "ratio": 2, "limit": 0, "upstream": {}, "mode": "bogus"}
    grouped = errors_by_name(validate_config(evaluator, SCHEMA, config))
    assert "cfg/header" in grouped  # minLength
    assert "cfg/ratio" in grouped and "cfg/limit" in grouped
    assert grouped["cfg/upstream/cluster"] == ["This field is required."]
    assert grouped["cfg/mode"][0].startswith("Choose one of: append, overwrite, 3")
    missing = errors_by_name(validate_config(evaluator, SCHEMA, {}))
    assert set(missing) == {"cfg/header", "cfg/mode"}


def test_list_item_errors_belong_to_the_list_field(evaluator: SchemaEvaluator) -> None:
    schema = {"type": "object", "properties": {
        "hosts": {"type": "array", "items": {"type": "string", "maxLength": 3}}}}
    grouped = errors_by_name(validate_config(evaluator, schema, {"hosts": ["ok", "toolong"]}))
    assert list(grouped) == ["cfg/hosts"]


def test_refs_are_followed() -> None:
    schema = {"type": "object", "properties": {"auth": {"$ref": "#/$defs/auth"}},
              "$defs": {"auth": {"type": "object", "properties": {"key": {"type": "string"}}}}}
    fields = by_key(build_form(schema))
    assert fields["auth"].kind is FieldKind.OBJECT and fields["key"].name == "cfg/auth/key"


@pytest.mark.parametrize("schema", [
    {"oneOf": [{"type": "string"}, {"type": "object"}]},
    {"type": "string"},
])
def test_non_object_roots_become_one_json_field(schema: dict[str, Any]) -> None:
    form = build_form(schema, None)
    assert form.kind in (FieldKind.JSON, FieldKind.STRING) and form.name == "cfg"
    config, errors = parse_form(form, {"cfg": ['{"a": 1}']})
    if form.kind is FieldKind.JSON:
        assert config == {"a": 1} and errors == []
    else:
        assert errors and errors[0].name == "cfg"


def test_check_schema_reports_broken_schemas(evaluator: SchemaEvaluator) -> None:
    assert check_schema(evaluator, SCHEMA) is None
    assert check_schema(evaluator, [1]) == "The config schema is not a JSON object."
    problem = check_schema(evaluator, {"type": "strin"})
    assert problem is not None and "not valid JSON Schema" in problem


def test_higress_openapi_style_schema(evaluator: SchemaEvaluator) -> None:
    # Higress spec.yaml configSchema.openAPIV3Schema: plain object schema with i18n extras.
    schema = {"type": "object", "properties": {
        "consumers": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "credential": {"type": "string"}}}},
        "keys": {"type": "array", "items": {"type": "string"}, "x-title-i18n": {"zh-CN": "键"}},
        "in_query": {"type": "boolean", "default": True},
    }, "required": ["keys"]}
    fields = by_key(build_form(schema, {"keys": ["x-api-key"]}))
    assert fields["consumers"].kind is FieldKind.JSON
    config, errors = parse_form(build_form(schema), {"cfg/keys": ["x-api-key"],
                                                     "cfg/in_query": ["false", "true"]})
    assert errors == [] and validate_config(evaluator, schema, config) == []
    assert fields["keys"].text_value == "x-api-key"
