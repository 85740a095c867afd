"""Full-text search over the catalog, on SQLite (FTS5) and PostgreSQL (tsvector).

Owns the text index and the search/facet queries; :class:`CatalogService` calls it.

- SQLite: the FTS5 table ``catalog_plugin_fts(names, body, readme)`` (rowid = plugin id)
  is rewritten by :func:`sync_plugin_text` whenever a plugin's text changes; ranking is
  ``bm25`` with names weighted 10, descriptions/keywords 4, README 1.
- PostgreSQL: the generated ``search_vector`` column (names A, descriptions/keywords B,
  README C; 'simple' config) is matched with ``websearch_to_tsquery`` and ranked with
  ``ts_rank_cd``; nothing to maintain here.
- Both: when a query term contains CJK characters, plugins whose names, descriptions or
  keywords contain every term as a substring (LIKE / ILIKE on ``search_text``) also
  match, because neither tokenizer splits Chinese words.

The user's text is never passed to FTS5 raw: :func:`parse_query` reads a websearch-like
syntax (words, ``"quoted phrases"``, ``-excluded``, ``or``) and :func:`fts5_match`
renders it with every term quoted, so no input can raise a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import Session

from wasmhub.authz.access import NOTHING_PRIVATE
from wasmhub.catalog.models import CatalogFacet, CatalogPlugin
from wasmhub.catalog.types import FacetCount, FacetKind, SearchQuery, SortOrder

CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_TOKEN_RE = re.compile(r'-?"[^"]*"?|\S+')
_WORD_RE = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 16


@dataclass
class ParsedQuery:
    """Groups of alternatives (AND of ORs) plus excluded terms; each term is a phrase."""

    groups: list[list[str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[str]:
        return [t for group in self.groups for t in group]

    @property
    def empty(self) -> bool:
        return not self.groups


def parse_query(q: str) -> ParsedQuery:
    parsed = ParsedQuery()
    join_next = False
    for raw in _TOKEN_RE.findall(q)[: MAX_TERMS * 2]:
        negative = raw.startswith("-") and len(raw) > 1
        body = raw[1:] if negative else raw
        if body.lower() == "or" and not negative:
            join_next = bool(parsed.groups)
            continue
        words = _WORD_RE.findall(body.strip('"').lower())
        if not words:
            continue
        phrase = " ".join(words)
        if negative:
            parsed.excluded.append(phrase)
        elif join_next:
            parsed.groups[-1].append(phrase)
        else:
            parsed.groups.append([phrase])
        join_next = False
    parsed.groups = parsed.groups[:MAX_TERMS]
    return parsed


def _quote(phrase: str) -> str:
    return '"' + phrase.replace('"', '""') + '"'


def fts5_match(parsed: ParsedQuery) -> str:
    groups = []
    for group in parsed.groups:
        alternatives = " OR ".join(_quote(t) for t in group)
        groups.append(f"({alternatives})" if len(group) > 1 else alternatives)
    expression = " AND ".join(groups)
    for term in parsed.excluded:
        expression += f" NOT {_quote(term)}"
    return expression


def search_text_of(plugin: CatalogPlugin) -> str:
    parts = [
        plugin.namespace, plugin.name, plugin.display_name_en, plugin.display_name_zh,
        plugin.description_en, plugin.description_zh, " ".join(plugin.keywords or []),
    ]
    return " ".join(p for p in parts if p).lower()


def sync_plugin_text(session: Session, plugin: CatalogPlugin) -> None:
    """Refresh the derived search columns (and on SQLite the FTS row) of ``plugin``."""
    plugin.search_text = search_text_of(plugin)
    if session.get_bind().dialect.name != "sqlite":
        return
    session.flush()
    names = " ".join(
        [plugin.namespace, plugin.name, plugin.display_name_en, plugin.display_name_zh]
    )
    body = " ".join(
        [plugin.description_en, plugin.description_zh, " ".join(plugin.keywords or [])]
    )
    session.execute(text("DELETE FROM catalog_plugin_fts WHERE rowid = :id"), {"id": plugin.id})
    session.execute(
        text(
            "INSERT INTO catalog_plugin_fts (rowid, names, body, readme) "
            "VALUES (:id, :names, :body, :readme)"
        ),
        {"id": plugin.id, "names": names, "body": body, "readme": plugin.readme_text},
    )


def forget_plugin_text(session: Session, plugin_id: int) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM catalog_plugin_fts WHERE rowid = :id"), {"id": plugin_id})


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _substring_condition(parsed: ParsedQuery) -> ColumnElement[bool] | None:
    """Every term as a substring of names/descriptions/keywords; only for CJK queries."""
    if not any(CJK_RE.search(t) for t in parsed.terms):
        return None
    column = CatalogPlugin.search_text
    clauses = []
    for group in parsed.groups:
        alternatives = []
        for term in group:
            # search_text and terms are both lower-cased, so LIKE is ILIKE here, and
            # byte-wise LIKE is several times cheaper than ILIKE on UTF-8 text.
            alternatives.append(column.like(f"%{_escape_like(term)}%", escape="\\"))
        clauses.append(or_(*alternatives))
    for term in parsed.excluded:
        clauses.append(~column.like(f"%{_escape_like(term)}%", escape="\\"))
    return and_(*clauses)


def _text_match(
    session: Session, parsed: ParsedQuery
) -> tuple[ColumnElement[bool], ColumnElement[Any], list[Any]]:
    """(condition, score expression, extra FROM joins) for the parsed query."""
    dialect = session.get_bind().dialect.name
    fallback = _substring_condition(parsed)
    if dialect == "postgresql":
        tsquery = func.websearch_to_tsquery(
            literal_column("'simple'::regconfig"),
            bindparam("websearch", _websearch_text(parsed)),
        )
        vector: ColumnElement[Any] = literal_column("catalog_plugins.search_vector")
        matched: ColumnElement[bool] = vector.bool_op("@@")(tsquery)
        score: ColumnElement[Any] = func.ts_rank_cd(vector, tsquery)
        condition = matched
        if fallback is not None:
            # A UNION of the two id sets lets the GIN index serve the full-text half; an
            # OR would evaluate the tsquery on every row next to the substring scan.
            either = union(
                select(CatalogPlugin.id).where(matched),
                select(CatalogPlugin.id).where(fallback),
            )
            condition = CatalogPlugin.id.in_(select(either.subquery().c.id))
        # Materialized first (GIN bitmap scan, ranking only the matches), then joined:
        # otherwise the planner probes the tsquery row by row along a sort index.
        matches = (
            select(CatalogPlugin.id.label("id"), score.label("score"))
            .where(condition)
            .cte("text_matches")
            .prefix_with("MATERIALIZED")
        )
        return matches.c.id.is_not(None), matches.c.score, [(matches, False)]
    fts = (
        text(
            "SELECT rowid AS id, -bm25(catalog_plugin_fts, 10.0, 4.0, 1.0) AS score "
            "FROM catalog_plugin_fts WHERE catalog_plugin_fts MATCH :match"
        )
        .bindparams(match=fts5_match(parsed))
        .columns(id=Integer, score=Float)
        .subquery("fts")
    )
    if fallback is None:
        return fts.c.id.is_not(None), fts.c.score, [(fts, False)]
    return (
        or_(fts.c.id.is_not(None), fallback),
        func.coalesce(fts.c.score, literal(0.0)),
        [(fts, True)],
    )


def _websearch_text(parsed: ParsedQuery) -> str:
    groups = [" or ".join(f'"{t}"' for t in group) for group in parsed.groups]
    return " ".join(groups + [f'-"{t}"' for t in parsed.excluded])


def _filtered(session: Session, query: SearchQuery) -> tuple[Select[Any], ColumnElement[Any]]:
    """SELECT catalog_plugins.id, score with every condition of ``query`` applied."""
    parsed = parse_query(query.q)
    score: ColumnElement[Any] = literal(0.0)
    stmt: Select[Any]
    conditions: list[ColumnElement[bool]] = []
    joins: list[Any] = []
    if not parsed.empty:
        condition, score, joins = _text_match(session, parsed)
        conditions.append(condition)
    stmt = select(CatalogPlugin.id, score.label("score"))
    for target, outer in joins:
        stmt = stmt.join(target, target.c.id == CatalogPlugin.id, isouter=outer)
    # Private plugins only for those who may read them (counts, pages and totals alike).
    conditions.append(
        (query.visible or NOTHING_PRIVATE).condition(CatalogPlugin.namespace,
                                                     CatalogPlugin.repository)
    )
    for kind, value in query.filters().items():
        conditions.append(
            CatalogPlugin.id.in_(
                select(CatalogFacet.plugin_id).where(
                    CatalogFacet.kind == kind.value, CatalogFacet.value == value
                )
            )
        )
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return stmt, score


def _order(query: SearchQuery, score: ColumnElement[Any], has_text: bool) -> list[Any]:
    plugin = CatalogPlugin
    if query.sort is SortOrder.STARS:
        return [plugin.stars.desc(), plugin.downloads.desc(), plugin.id]
    if query.sort is SortOrder.DOWNLOADS:
        return [plugin.downloads.desc(), plugin.stars.desc(), plugin.id]
    if query.sort is SortOrder.UPDATED or not has_text:
        if query.sort is SortOrder.RELEVANCE:
            return [plugin.downloads.desc(), plugin.updated_at.desc(), plugin.id]
        return [plugin.updated_at.desc(), plugin.id.desc()]
    return [score.desc(), plugin.downloads.desc(), plugin.id]


def _prefer_text_index(session: Session, parsed: ParsedQuery) -> None:
    """On PostgreSQL, make a text query use the GIN index even for common words.

    The planner prices ``@@`` as cheap and picks a sequential scan once a word is in more
    than a few percent of plugins; each row then detoasts its whole tsvector, about 5x
    slower than a bitmap scan of the GIN index (measured by bench/search.py). SET LOCAL
    lasts until the end of this transaction only. Not for CJK queries: their substring
    half is a sequential scan by nature.
    """
    has_text = not parsed.empty
    cjk = any(CJK_RE.search(t) for t in parsed.terms)
    if has_text and session.get_bind().dialect.name == "postgresql" and not cjk:
        session.execute(text("SET LOCAL enable_seqscan = off"))


def search_plugins(session: Session, query: SearchQuery) -> tuple[list[CatalogPlugin], int]:
    """One page of plugins matching ``query`` and the total number of matches."""
    stmt, score = _filtered(session, query)
    parsed = parse_query(query.q)
    has_text = not parsed.empty
    _prefer_text_index(session, parsed)
    # One pass: the total rides along as a window count instead of a second query.
    page_stmt = (
        stmt.add_columns(func.count().over().label("total"))
        .order_by(*_order(query, score, has_text))
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    )
    rows = session.execute(page_stmt).all()
    if not rows:
        if query.page == 1:
            return [], 0
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        return [], total
    ids = [row[0] for row in rows]
    total = int(rows[0][-1])
    loaded = session.scalars(select(CatalogPlugin).where(CatalogPlugin.id.in_(ids)))
    plugins = {p.id: p for p in loaded}
    return [plugins[i] for i in ids if i in plugins], total


def facet_counts(
    session: Session, query: SearchQuery, kinds: Sequence[FacetKind] = tuple(FacetKind)
) -> dict[FacetKind, list[FacetCount]]:
    """How many plugins matching ``query`` carry each facet value, most common first."""
    stmt, _ = _filtered(session, query)
    _prefer_text_index(session, parse_query(query.q))
    matching = stmt.subquery()
    rows = session.execute(
        select(CatalogFacet.kind, CatalogFacet.value, func.count().label("n"))
        .where(
            CatalogFacet.plugin_id.in_(select(matching.c.id)),
            CatalogFacet.kind.in_([k.value for k in kinds]),
        )
        .group_by(CatalogFacet.kind, CatalogFacet.value)
        .order_by(func.count().desc(), CatalogFacet.value)
    )
    result: dict[FacetKind, list[FacetCount]] = {kind: [] for kind in kinds}
    for kind, value, count in rows:
        result[FacetKind(kind)].append(FacetCount(value=value, count=int(count)))
    return result
