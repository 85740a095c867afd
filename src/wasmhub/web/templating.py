"""The Jinja2 environment of the web UI: one per locale, with gettext and formatting.

Owns template loading (autoescaped, from ``web/templates``), the i18n extension wired to
the Babel catalogs of :mod:`wasmhub.web.i18n`, and the filters templates use to show
numbers, dates, sizes and localized plugin fields in the page's language. Labels for
facet values (categories, filter types, platforms) live here too so the English and
Chinese names sit next to each other in the message catalog.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_date, format_timedelta
from babel.numbers import format_compact_decimal, format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wasmhub.catalog.types import FacetKind
from wasmhub.web import i18n
from wasmhub.web.schema_form import enum_token, pointer_name

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def _(message: str) -> str:
    """Marks a string for extraction; translated at render time via ``label``."""
    return message


# Known facet values. Unknown values are shown as they are.
CATEGORY_LABELS: dict[str, str] = {
    "auth": _("Authentication"),
    "security": _("Security"),
    "traffic": _("Traffic management"),
    "transformation": _("Transformation"),
    "observability": _("Observability"),
    "ai": _("AI"),
    "routing": _("Routing"),
    "custom": _("Custom"),
    "other": _("Other"),
}
FILTER_TYPE_LABELS: dict[str, str] = {"http": _("HTTP filter"), "network": _("Network filter")}
PLATFORM_LABELS: dict[str, str] = {
    "istio": "Istio",
    "envoy": "Envoy",
    "envoy-gateway": "Envoy Gateway",
    "higress": "Higress",
    "consul": "Consul",
    "gloo": "Gloo",
}


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _filesize(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _is_safe_url(value: Any) -> bool:
    """Links we render as ``<a href>``: only http(s), never ``javascript:`` and friends."""
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def _field_id(name: str) -> str:
    return "add-" + name


def facet_labeller(table: dict[str, str], locale: str) -> Callable[[str], str]:
    """Translate known facet values (``auth`` → "Authentication"/"认证"); others as is."""
    gettext = i18n.translations(locale).gettext

    def label(value: str) -> str:
        known = table.get(value)
        return gettext(known) if known else value

    return label


def facet_labellers(locale: str) -> dict[FacetKind, Callable[[str], str]]:
    return {
        FacetKind.CATEGORY: facet_labeller(CATEGORY_LABELS, locale),
        FacetKind.FILTER_TYPE: facet_labeller(FILTER_TYPE_LABELS, locale),
        FacetKind.PLATFORM: facet_labeller(PLATFORM_LABELS, locale),
        FacetKind.SIGNED: facet_labeller({"yes": _("Signed by a trusted key")}, locale),
    }


@cache
def environment(locale: str) -> Environment:
    """The environment for ``locale``; cached, so templates compile once per process."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    translations = i18n.translations(locale)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    babel_locale = i18n.BABEL_LOCALE[locale]

    def ago(value: Any) -> str:
        moment = _as_datetime(value)
        if moment is None:
            return ""
        return format_timedelta(
            moment - datetime.now(UTC), add_direction=True, threshold=1.1, locale=babel_locale
        )

    def date(value: Any) -> str:
        moment = _as_datetime(value)
        return format_date(moment, "medium", locale=babel_locale) if moment else ""

    def compact(value: Any) -> str:
        number = int(value or 0)
        if abs(number) < 10000:
            return format_decimal(number, locale=babel_locale)
        return format_compact_decimal(number, locale=babel_locale, fraction_digits=1)

    env.filters.update(
        loc=lambda value: i18n.localized(value, locale),
        compact=compact,
        date=date,
        ago=ago,
        isodate=lambda value: (m.isoformat() if (m := _as_datetime(value)) else ""),
        filesize=_filesize,
        enum_token=enum_token,
        field_id=_field_id,
        tojson=lambda value: json.dumps(value, ensure_ascii=False),
    )
    env.tests["safe_url"] = _is_safe_url
    env.globals.update(
        locale=locale,
        html_lang=i18n.HTML_LANG[locale],
        languages=[(code, i18n.LOCALE_NAMES[code]) for code in i18n.SUPPORTED_LOCALES],
        category_label=facet_labeller(CATEGORY_LABELS, locale),
        filter_type_label=facet_labeller(FILTER_TYPE_LABELS, locale),
        platform_label=facet_labeller(PLATFORM_LABELS, locale),
        pointer_name=pointer_name,
    )
    return env
