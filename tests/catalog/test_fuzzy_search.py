"""A search that finds nothing as typed gets a second chance (catalog.fuzzy), both backends."""

from __future__ import annotations

import pytest

from tests.catalog.records import record
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import FacetKind, SearchQuery
from wasmhub.hub import Hub


@pytest.fixture
def catalog(hub: Hub) -> CatalogService:
    service = CatalogService(hub)
    service.record_version(record(
        "library/rate-limit", en="Rate Limit", description="Per-user limits by plan",
        keywords=("throttle",), category="security", minutes=1))
    service.record_version(record(
        "library/add-header", en="Add Header", category="traffic",
        description="Sets request and response header values", minutes=2))
    service.record_version(record(
        "library/data-mask", en="Data Mask", description="Masks cards in bodies",
        category="security",
        minutes=3))
    return service


def found(catalog: CatalogService, q: str) -> tuple[list[str], str | None]:
    page = catalog.search(SearchQuery(q=q))
    return [p.name for p in page.items], page.corrected_q


def test_joined_words_prefixes_and_typos_find_the_plugin(catalog: CatalogService) -> None:
    assert found(catalog, "ratelimit") == (["rate-limit"], '"rate limit"')
    assert found(catalog, "hedaer") == (["add-header"], "header")
    names, corrected = found(catalog, "thrott")
    assert names == ["rate-limit"] and corrected == "throttle"
    # words that match as typed are not second-guessed, and nonsense stays empty
    assert found(catalog, "header") == (["add-header"], None)
    assert found(catalog, "zzzzqqq") == ([], None)
    # the correction keeps the other terms and filters of the query
    assert found(catalog, "hedaer values")[0] == ["add-header"]
    filtered = catalog.search(SearchQuery(q="hedaer", category="security"))
    assert filtered.items == () and filtered.corrected_q is None


def test_facets_follow_the_corrected_query(catalog: CatalogService) -> None:
    page = catalog.search(SearchQuery(q="hedaer"))
    assert page.corrected_q is not None
    counts = catalog.facets(SearchQuery(q=page.corrected_q))
    assert [c.value for c in counts[FacetKind.CATEGORY]] == ["traffic"]
