"""Browsing pages: home, search with facets/sort/pagination, and namespace listings.

Handlers parse query parameters into a :class:`~wasmhub.catalog.types.SearchQuery`, call
:class:`~wasmhub.catalog.service.CatalogService` in a worker thread (it is synchronous
SQLAlchemy) and render. Everything works with plain GET links and forms; htmx only
swaps the result list in place while typing or ticking a filter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import FacetCount, FacetKind, SearchPage, SearchQuery, SortOrder
from wasmhub.web.context import Page, is_htmx
from wasmhub.web.templating import _, facet_labellers

PER_PAGE = 20
HOME_LIMIT = 6
FACET_PARAMS: tuple[tuple[FacetKind, str, str], ...] = (
    (FacetKind.CATEGORY, "category", _("Category")),
    (FacetKind.ABI, "abi", _("ABI version")),
    (FacetKind.FILTER_TYPE, "filter_type", _("Filter type")),
    (FacetKind.PLATFORM, "platform", _("Target platform")),
    (FacetKind.NAMESPACE, "namespace", _("Namespace")),
    (FacetKind.SIGNED, "signed", _("Signed")),
)
SORT_LABELS: tuple[tuple[SortOrder, str], ...] = (
    (SortOrder.RELEVANCE, _("relevance")),
    (SortOrder.STARS, _("stars")),
    (SortOrder.DOWNLOADS, _("downloads")),
    (SortOrder.UPDATED, _("recently updated")),
)


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: int | None
    selected: bool


@dataclass(frozen=True)
class FacetGroup:
    param: str
    label: str
    selected: str | None
    options: tuple[FacetOption, ...]


def service(request: Request) -> CatalogService:
    return CatalogService(request.app.state.hub)


def parse_query(request: Request) -> SearchQuery:
    """Query parameters → SearchQuery; junk values fall back to defaults, not errors."""
    params = request.query_params
    try:
        sort = SortOrder(params.get("sort") or SortOrder.RELEVANCE)
    except ValueError:
        sort = SortOrder.RELEVANCE
    try:
        page = max(1, min(int(params.get("page") or 1), 10_000))
    except ValueError:
        page = 1

    def choice(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value[:128] or None

    return SearchQuery(
        q=(params.get("q") or "").strip()[:500],
        category=choice("category"),
        abi=choice("abi"),
        filter_type=choice("filter_type"),
        platform=choice("platform"),
        namespace=choice("namespace"),
        signed="yes" if choice("signed") == "yes" else None,
        sort=sort,
        page=page,
        per_page=PER_PAGE,
    )


def page_numbers(page: int, total: int, per_page: int) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20: None marks a gap."""
    last = max(1, -(-total // per_page))
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        previous = numbers[-1] if numbers else None
        if previous is not None and number - previous > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def query_string(query: SearchQuery, **changes: Any) -> str:
    chosen = replace(query, **changes)
    pairs: list[tuple[str, str]] = [("q", chosen.q)] if chosen.q else []
    pairs += [(param, value) for kind, param, _label in FACET_PARAMS
              if (value := chosen.filters().get(kind))]
    if chosen.sort is not SortOrder.RELEVANCE:
        pairs.append(("sort", chosen.sort.value))
    if chosen.page > 1:
        pairs.append(("page", str(chosen.page)))
    return urlencode(pairs)


def facet_groups(
    page: Page, query: SearchQuery, counts: dict[FacetKind, list[FacetCount]]
) -> list[FacetGroup]:
    """The filter sidebar: each facet's values with counts; the chosen one always listed."""
    labellers = facet_labellers(page.locale)
    groups: list[FacetGroup] = []
    for kind, param, label in FACET_PARAMS:
        selected = query.filters().get(kind)
        options = list(counts.get(kind, []))
        if selected and all(option.value != selected for option in options):
            options.insert(0, FacetCount(selected, 0))
        labeller = labellers.get(kind, str)
        groups.append(FacetGroup(
            param=param,
            label=page.gettext(label),
            selected=selected,
            options=tuple(
                FacetOption(
                    value=o.value,
                    label=labeller(o.value),
                    count=o.count,
                    selected=o.value == selected,
                )
                for o in options
            ),
        ))
    return groups


async def home(request: Request) -> Response:
    page = Page.of(request)
    catalog = service(request)

    def load() -> dict[str, object]:
        visible = page.read_scope()
        counts = catalog.facets(SearchQuery(visible=visible))
        return {
            "popular": catalog.popular(HOME_LIMIT, visible),
            "recent": catalog.recent(HOME_LIMIT, visible),
            "categories": [(c.value, c.count) for c in catalog.categories(visible)],
            "total_plugins": catalog.search(SearchQuery(per_page=1, visible=visible)).total,
            "namespaces_count": len(counts.get(FacetKind.NAMESPACE, [])),
            "total_downloads": None,
        }

    context = await run_in_threadpool(load)
    return page.render("home.html", context)


async def search(request: Request) -> Response:
    page = Page.of(request)
    query = parse_query(request)
    catalog = service(request)

    def load() -> tuple[SearchPage, dict[FacetKind, list[FacetCount]]]:
        visible = replace(query, visible=page.read_scope())
        found = catalog.search(visible)
        ran = replace(visible, q=found.corrected_q) if found.corrected_q else visible
        return found, catalog.facets(ran)

    result, counts = await run_in_threadpool(load)
    context = {
        "query": {"q": query.q, "sort": query.sort.value},
        "has_filters": bool(query.filters()),
        "corrected_q": result.corrected_q,
        "result": result,
        "facets": facet_groups(page, query, counts),
        "sort_options": [(value.value, page.gettext(label)) for value, label in SORT_LABELS],
        "pages": page_numbers(query.page, result.total, query.per_page),
        "page_url": lambda number: "/search?" + query_string(query, page=number),
        "nav": "browse",
        "header_query": query.q,
    }
    template = "_search_update.html" if is_htmx(request) and not request.headers.get(
        "hx-history-restore-request") else "search.html"
    return page.render(template, context)


async def namespace_page(request: Request) -> Response:
    page = Page.of(request)
    namespace = request.path_params["namespace"]
    query = replace(parse_query(request), q="", namespace=namespace, sort=SortOrder.UPDATED)

    def load() -> SearchPage:
        return service(request).search(replace(query, visible=page.read_scope()))

    result = await run_in_threadpool(load)
    if result.total == 0:
        return page.render("error.html", {
            "status_code": 404,
            "heading": page.gettext("Namespace not found"),
            "message": page.gettext("No plugins are published under “%(ns)s”.", ns=namespace),
        }, status=404)
    return page.render("namespace.html", {
        "namespace": namespace,
        "result": result,
        "pages": page_numbers(query.page, result.total, query.per_page),
        "page_url": lambda number: f"?page={number}",
    })
