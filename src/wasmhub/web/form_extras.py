"""What the config form shows beyond ``schema_form``'s model: translations and map editors.

``schema_form`` builds the fields and validates; this module only adds presentation:

- **Translated labels and descriptions.** A configSchema property may carry
  ``x-title-i18n`` / ``x-description-i18n``: ``{zh: "...", ...}`` (``zh-CN`` is read as
  ``zh``, the Higress spelling). :func:`localize_form` returns the form with the visitor's
  language where the schema has it, English (``title`` / ``description``) otherwise.
- **Maps.** An object property with no ``properties`` and a schema in
  ``additionalProperties`` (``users: {type: object, additionalProperties: {type:
  string}}``) is a map; ``schema_form`` edits it as JSON. :func:`map_fields` names each
  such field and the kind of its values, so the page can offer a key/value editor
  (``static/wasmhub.js``) that keeps the JSON field in step; without JS the JSON stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from wasmhub.web.schema_form import FieldKind, FormField

_MAX_REF_HOPS = 16
SCALAR_VALUE_KINDS = ("string", "integer", "number", "boolean")


def _resolve(root: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    """``node`` with local ``$ref``s followed (``#/$defs/x``); {} for anything else."""
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(node, Mapping):
            return {}
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = root
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
    return {}


def _pairs(root: Mapping[str, Any], form: FormField,
           schema: Any) -> list[tuple[FormField, Mapping[str, Any]]]:
    """Every field of ``form`` with the (resolved) schema it was built from."""
    node = _resolve(root, schema)
    found = [(form, node)]
    props = node.get("properties")
    if form.kind is FieldKind.OBJECT and isinstance(props, Mapping):
        for child in form.children:
            found += _pairs(root, child, props.get(child.key))
    return found


def _translated(value: Any, locale: str) -> str | None:
    if not isinstance(value, Mapping):
        return None
    for key in (locale, f"{locale}-CN" if locale == "zh" else locale):
        text = value.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return None


def localize_form(form: FormField, schema: Mapping[str, Any], locale: str) -> FormField:
    """The form with labels and descriptions in ``locale`` where the schema has them."""
    if locale == "en":
        return form
    texts = {f.name: (_translated(s.get("x-title-i18n"), locale),
                      _translated(s.get("x-description-i18n"), locale))
             for f, s in _pairs(schema, form, schema)}

    def walk(field: FormField) -> FormField:
        title, description = texts.get(field.name, (None, None))
        return replace(field, label=title or field.label,
                       description=description or field.description,
                       children=tuple(walk(child) for child in field.children))

    return walk(form)


def map_fields(form: FormField, schema: Mapping[str, Any]) -> dict[str, str]:
    """{field name: value kind} for JSON fields that are maps; the kind is a JSON type
    (``string``, ``integer``, ``number``, ``boolean``) or ``json`` for structured values."""
    maps: dict[str, str] = {}
    for field, node in _pairs(schema, form, schema):
        if field.kind is not FieldKind.JSON or node.get("type") != "object":
            continue
        values = node.get("additionalProperties")
        if "properties" in node or not isinstance(values, Mapping):
            continue
        value_type = _resolve(schema, values).get("type")
        maps[field.name] = value_type if value_type in SCALAR_VALUE_KINDS else "json"
    return maps
