"""Which language a page is rendered in, and the message catalogs behind it.

Owns locale selection for the web UI (``?lang=`` beats the ``lang`` cookie beats the
``Accept-Language`` header, default English), loading the Babel message catalogs from
``web/locale/<lang>/LC_MESSAGES/messages.po`` (compiled in memory at first use, so no
``.mo`` build step can go stale), and picking the ``zh`` or ``en`` variant of a plugin's
localized fields.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "zh")
LOCALE_NAMES: Mapping[str, str] = {"en": "English", "zh": "中文"}
# What each UI locale is called in HTML lang attributes and Babel formatting.
HTML_LANG: Mapping[str, str] = {"en": "en", "zh": "zh-Hans"}
BABEL_LOCALE: Mapping[str, str] = {"en": "en", "zh": "zh_Hans_CN"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
COOKIE_NAME = "lang"


def normalize_locale(tag: str | None) -> str | None:
    """``zh-CN``/``zh_Hans``/``ZH`` → ``zh``; ``en-GB`` → ``en``; unknown → None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in SUPPORTED_LOCALES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best supported locale in an ``Accept-Language`` header, honouring q-values."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = normalize_locale(tag)
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def select_locale(
    query: str | None, cookie: str | None, accept_language: str | None
) -> str:
    """The locale for one request: explicit query, then cookie, then the header."""
    return (
        normalize_locale(query)
        or normalize_locale(cookie)
        or negotiate(accept_language)
        or DEFAULT_LOCALE
    )


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for ``locale``; English is the msgids themselves."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def localized(value: Any, locale: str) -> str:
    """Pick the ``locale`` variant of an ``{en, zh}`` mapping or ``Localized``, else English.

    Plain strings pass through; missing or empty variants fall back to any non-empty one.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        variants = {str(k): v for k, v in value.items()}
    elif all(hasattr(value, lang) for lang in SUPPORTED_LOCALES):
        # wasmhub.catalog.types.Localized and anything shaped like it.
        variants = {lang: getattr(value, lang) for lang in SUPPORTED_LOCALES}
    else:
        return str(value)
    for key in (locale, DEFAULT_LOCALE, *variants.keys()):
        text = variants.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return ""
