"""Locale selection (query > cookie > Accept-Language) and the zh message catalog."""

from __future__ import annotations

import pytest

from wasmhub.catalog.types import Localized
from wasmhub.web import i18n


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("", None),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("fr-FR,zh-Hans;q=0.5,en;q=0.4", "zh"),
    ("en;q=0.2, zh-TW;q=0.7", "zh"),
    ("de, fr", None),
    ("zh;q=0, en;q=0.1", "en"),
    ("zh;q=bogus, en", "en"),
])
def test_accept_language_negotiation(header: str | None, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_query_beats_cookie_beats_header_and_default_is_english() -> None:
    assert i18n.select_locale("zh", "en", "en") == "zh"
    assert i18n.select_locale(None, "zh", "en-US") == "zh"
    assert i18n.select_locale("xx", "bogus", "zh-CN") == "zh"
    assert i18n.select_locale(None, None, None) == "en"
    assert i18n.select_locale("EN_gb", None, "zh") == "en"


def test_zh_catalog_compiles_and_translates() -> None:
    zh = i18n.translations("zh")
    assert zh.gettext("Search plugins") == "搜索插件"
    assert zh.ngettext("%(num)s plugin", "%(num)s plugins", 3) % {"num": 3} == "3 个插件"
    assert i18n.translations("en").gettext("Search plugins") == "Search plugins"


def test_every_zh_message_is_translated() -> None:
    from babel.messages.pofile import read_po

    path = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []


def test_localized_picks_the_variant_and_falls_back() -> None:
    assert i18n.localized(Localized("Rate limit", "限流"), "zh") == "限流"
    assert i18n.localized(Localized("Rate limit", ""), "zh") == "Rate limit"
    assert i18n.localized({"en": "", "zh": "仅中文"}, "en") == "仅中文"
    assert i18n.localized(None, "en") == ""
    assert i18n.localized("plain", "zh") == "plain"
