"""Second chance for a search that found nothing: joined words, prefixes and typos.

Full-text search (``catalog.search``) matches whole words, so ``ratelimit``, ``ratel``
and ``hedaer`` find nothing although ``rate-limit`` and ``header`` are right there. When
a text query has no hit, :func:`correct_query` rewrites each unknown single-word term
from the catalog's own vocabulary (the lower-cased names, descriptions and keywords in
``catalog_plugins.search_text``), the same way on SQLite and PostgreSQL:

1. a term that is a name or keyword with its separators dropped (``ratelimit`` for
   ``rate-limit``) becomes that phrase;
2. a term of 3+ characters that starts vocabulary words becomes those words (OR);
3. a term of 4+ characters within a small edit distance of vocabulary words
   (``difflib`` ratio >= 0.8: one transposition or a letter or two) becomes them (OR).

The rewritten query goes through the normal search again, so ranking, filters and
facets behave as for any query. Only zero-hit queries pay for this; the vocabulary is
read once per state of the catalog (see :func:`vocabulary`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wasmhub.catalog.models import CatalogPlugin
from wasmhub.catalog.search import CJK_RE, parse_query

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_SEPARATORS_RE = re.compile(r"[\W_]+", re.UNICODE)
MAX_ALTERNATIVES = 4
MIN_PREFIX = 3
MIN_TYPO = 4
TYPO_CUTOFF = 0.8


class Vocabulary:
    """Words of the catalog with their frequency, and joined compounds -> their words."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.words: Counter[str] = Counter()
        self.compounds: dict[str, str] = {}
        for text in texts:
            words = _WORD_RE.findall(text)
            self.words.update(words)
            for token in text.split():
                parts = [p for p in _SEPARATORS_RE.split(token) if p]
                if len(parts) > 1:
                    self.compounds.setdefault("".join(parts), " ".join(parts))

    def _ranked(self, words: Iterable[str]) -> list[str]:
        return sorted(words, key=lambda w: (-self.words[w], w))[:MAX_ALTERNATIVES]

    def alternatives(self, term: str) -> list[str]:
        """Phrases to search instead of ``term``; [] when there is nothing better."""
        if " " in term or term in self.words or CJK_RE.search(term):
            return []
        if term in self.compounds:
            return [self.compounds[term]]
        if len(term) >= MIN_PREFIX:
            prefixed = [w for w in self.words if w.startswith(term)]
            if prefixed:
                return self._ranked(prefixed)
        if len(term) >= MIN_TYPO:
            near = [w for w in self.words if abs(len(w) - len(term)) <= 2]
            close = difflib.get_close_matches(term, near, n=MAX_ALTERNATIVES,
                                              cutoff=TYPO_CUTOFF)
            return self._ranked(close)
        return []


_CACHE: dict[tuple[str, int, str], Vocabulary] = {}
_CACHE_SIZE = 8


def vocabulary(session: Session) -> Vocabulary:
    """The catalog's vocabulary, rebuilt only when a plugin was added, removed or changed.

    The key is (database, plugin count, newest ``updated_at``): two cheap aggregates
    instead of reading every plugin's text on each zero-hit query.
    """
    count, newest = session.execute(
        select(func.count(), func.max(CatalogPlugin.updated_at))).one()
    key = (str(session.get_bind().engine.url), int(count), str(newest))
    cached = _CACHE.get(key)
    if cached is None:
        cached = Vocabulary(t for t in session.scalars(select(CatalogPlugin.search_text)) if t)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = cached
    return cached


def _quoted(phrase: str) -> str:
    return '"' + phrase + '"' if " " in phrase else phrase


def correct_query(session: Session, q: str) -> str | None:
    """``q`` with unknown terms replaced from the vocabulary, or None if nothing changed."""
    parsed = parse_query(q)
    if parsed.empty:
        return None
    words = vocabulary(session)
    changed = False
    groups: list[str] = []
    for group in parsed.groups:
        alternatives: list[str] = []
        for term in group:
            found = words.alternatives(term)
            changed = changed or bool(found)
            alternatives.extend(found or [term])
        groups.append(" or ".join(_quoted(a) for a in dict.fromkeys(alternatives)))
    if not changed:
        return None
    return " ".join(groups + [f'-{_quoted(t)}' for t in parsed.excluded])
