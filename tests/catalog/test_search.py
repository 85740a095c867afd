"""Search, filters, sorting and facets on both database backends."""

from __future__ import annotations

import pytest

from tests.catalog.records import record
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import FacetKind, SearchQuery, SortOrder
from wasmhub.errors import InputError
from wasmhub.hub import Hub


@pytest.fixture
def catalog(hub: Hub) -> CatalogService:
    service = CatalogService(hub)
    service.record_version(record(
        "acme/rate-limit", en="Rate Limit", zh="限流插件",
        description="Token bucket rate limiting per client", keywords=("throttle", "quota"),
        readme="# Rate limit\n\nUses a **token bucket** stored in shared data.", minutes=1,
    ))
    service.record_version(record(
        "acme/jwt-auth", en="JWT Auth", zh="JWT 认证", category="auth",
        description="Verifies JSON Web Tokens", keywords=("jwt", "security"),
        abi="0.2.0", platforms=("istio", "higress"), minutes=2,
    ))
    service.record_version(record(
        "waf", en="Web Application Firewall", zh="防火墙", category="security",
        description="Blocks SQL injection", filter_types=("http", "network"),
        readme="Rules mention the word bucket once.", minutes=3,
    ))
    return service


def names(page: object) -> list[str]:
    return [f"{p.namespace}/{p.name}" for p in page.items]  # type: ignore[attr-defined]


def test_full_text_matches_names_descriptions_keywords_and_readme(catalog: CatalogService) -> None:
    assert names(catalog.search(SearchQuery(q="rate"))) == ["acme/rate-limit"]
    assert names(catalog.search(SearchQuery(q="tokens"))) == ["acme/jwt-auth"]
    assert names(catalog.search(SearchQuery(q="throttle"))) == ["acme/rate-limit"]
    assert names(catalog.search(SearchQuery(q="firewall"))) == ["library/waf"]
    # README text counts, but a name/description hit ranks above a README-only hit.
    assert names(catalog.search(SearchQuery(q="bucket"))) == ["acme/rate-limit", "library/waf"]


def test_query_syntax_phrases_or_and_exclusion(catalog: CatalogService) -> None:
    assert names(catalog.search(SearchQuery(q='"json web"'))) == ["acme/jwt-auth"]
    found = names(catalog.search(SearchQuery(q="jwt or firewall", sort=SortOrder.UPDATED)))
    assert found == ["library/waf", "acme/jwt-auth"]
    assert names(catalog.search(SearchQuery(q="bucket -firewall"))) == ["acme/rate-limit"]
    for hostile in ['"', "AND", "NEAR(", "*", "-", "'; DROP TABLE x; --", "a:b", "^x"]:
        catalog.search(SearchQuery(q=hostile))


def test_chinese_names_match_by_token_and_substring(catalog: CatalogService) -> None:
    assert names(catalog.search(SearchQuery(q="限流插件"))) == ["acme/rate-limit"]
    assert names(catalog.search(SearchQuery(q="限流"))) == ["acme/rate-limit"]
    assert names(catalog.search(SearchQuery(q="插件"))) == ["acme/rate-limit"]
    assert names(catalog.search(SearchQuery(q="认证"))) == ["acme/jwt-auth"]
    assert names(catalog.search(SearchQuery(q="火墙"))) == ["library/waf"]


def test_filters(catalog: CatalogService) -> None:
    assert names(catalog.search(SearchQuery(category="auth"))) == ["acme/jwt-auth"]
    assert names(catalog.search(SearchQuery(abi="0.2.0"))) == ["acme/jwt-auth"]
    assert names(catalog.search(SearchQuery(filter_type="network"))) == ["library/waf"]
    assert names(catalog.search(SearchQuery(platform="higress"))) == ["acme/jwt-auth"]
    assert len(catalog.search(SearchQuery(namespace="acme")).items) == 2
    assert names(catalog.search(SearchQuery(namespace="library"))) == ["library/waf"]
    assert catalog.search(SearchQuery(q="rate", category="auth")).total == 0


def test_sorting_and_pagination(catalog: CatalogService) -> None:
    recent = catalog.search(SearchQuery(sort=SortOrder.UPDATED))
    assert names(recent) == ["library/waf", "acme/jwt-auth", "acme/rate-limit"]
    catalog.star("acme", "jwt-auth", "ann")
    catalog.star("acme", "jwt-auth", "bob")
    catalog.star("acme", "rate-limit", "ann")
    assert names(catalog.search(SearchQuery(sort=SortOrder.STARS)))[:2] == [
        "acme/jwt-auth", "acme/rate-limit"
    ]
    catalog.count_download("waf", record("waf").digest, "1.0.0")
    assert names(catalog.search(SearchQuery(sort=SortOrder.DOWNLOADS)))[0] == "library/waf"
    first = catalog.search(SearchQuery(sort=SortOrder.UPDATED, per_page=2))
    second = catalog.search(SearchQuery(sort=SortOrder.UPDATED, per_page=2, page=2))
    assert (first.total, second.total) == (3, 3)
    assert names(first) + names(second) == names(recent)
    assert catalog.search(SearchQuery(page=9)).items == ()
    with pytest.raises(InputError):
        catalog.search(SearchQuery(per_page=1000))
    with pytest.raises(InputError):
        catalog.search(SearchQuery(page=0))


def test_facets_and_categories(catalog: CatalogService) -> None:
    categories = {c.value: c.count for c in catalog.categories()}
    assert categories == {"traffic": 1, "auth": 1, "security": 1}
    facets = catalog.facets(SearchQuery(namespace="acme"))
    assert {f.value: f.count for f in facets[FacetKind.PLATFORM]} == {
        "istio": 2, "envoy": 1, "higress": 1
    }
    assert {f.value for f in facets[FacetKind.ABI]} == {"0.2.0", "0.2.1"}
    assert [p.name for p in catalog.recent(2)] == ["waf", "jwt-auth"]
    assert len(catalog.popular()) == 3
