"""README and description text: Markdown to safe HTML, and plain text for search.

Markdown is rendered by markdown-it-py (CommonMark, tables, strikethrough) with raw HTML
passed through, then sanitized by nh3 (an allow-list of tags and attributes, only
http/https/mailto link schemes, ``rel="noopener noreferrer nofollow"`` on links). Every
README or description the catalog shows in HTML goes through :func:`render_markdown`.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_SEARCH_TEXT = 20_000

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def render_markdown(text: str) -> str:
    """Markdown → HTML that is safe to embed in a page (scripts, handlers, js: removed)."""
    if not text.strip():
        return ""
    raw = _markdown.render(text)
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def plain_text(text: str, limit: int = MAX_SEARCH_TEXT) -> str:
    """The words of a Markdown document, without markup, for the search index."""
    if not text.strip():
        return ""
    stripped = nh3.clean(_markdown.render(text), tags=set())
    return " ".join(html.unescape(stripped).split())[:limit]


def clean_line(text: str, limit: int) -> str:
    """A single line of user text (name, description) with control characters removed."""
    kept = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(kept.split())[:limit]
