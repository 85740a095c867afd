"""The catalog shows signatures: "signed by" per version, the ``signed`` search facet, the
signatures endpoint and the plugin page's signatures section, following key changes."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.signing.conftest import ServedHub, generate_key, publish, sign


def _versions(served: ServedHub, repository: str) -> dict[str, list[str]]:
    body = httpx.get(f"{served.url}/api/v1/plugins/{repository}").json()
    return {v["tag"]: v["signed_by"] for v in body["versions"]}


def _signed_names(served: ServedHub) -> list[str]:
    body = httpx.get(f"{served.url}/api/v1/plugins", params={"signed": "yes"}).json()
    return sorted(p["name"] for p in body["items"])


def test_signed_by_follows_signatures_and_key_changes(served: ServedHub,
                                                      tmp_path: Path) -> None:
    public = generate_key("release")
    plugin = publish(served.host, tmp_path, name="badged")
    other = publish(served.host, tmp_path, name="plain")
    sign(plugin.ref, "release")
    # Signed, but by a key the namespace has not registered: not "signed by" anyone yet.
    assert _versions(served, plugin.repository) == {"1.0.0": []}
    assert _signed_names(served) == []
    served.trust.add_key("acme", "release", public.read_bytes(), "ops")
    assert _versions(served, plugin.repository) == {"1.0.0": ["release"]}
    assert _versions(served, other.repository) == {"1.0.0": []}
    assert _signed_names(served) == ["badged"]
    facets = httpx.get(f"{served.url}/api/v1/facets").json()
    assert facets["signed"] == [{"value": "yes", "count": 1}]
    detail = httpx.get(f"{served.url}/api/v1/plugins/{plugin.repository}/versions/1.0.0").json()
    assert detail["version"]["signed_by"] == ["release"]

    # A new, unsigned version becomes the latest: the plugin leaves the facet, the old
    # version keeps its badge.
    publish(served.host, tmp_path, name="badged", tag="1.1.0", marker="v1.1")
    assert _versions(served, plugin.repository) == {"1.1.0": [], "1.0.0": ["release"]}
    assert _signed_names(served) == []
    sign(f"{served.host}/{plugin.repository}:1.1.0", "release")
    assert _signed_names(served) == ["badged"]

    served.trust.revoke_key("acme", "release", "rotated", "ops")
    assert _versions(served, plugin.repository) == {"1.1.0": [], "1.0.0": []}
    assert _signed_names(served) == []
    bad = httpx.get(f"{served.url}/api/v1/plugins", params={"signed": "maybe"})
    assert bad.status_code == 422


def test_signatures_endpoint_and_page_section(served: ServedHub, tmp_path: Path) -> None:
    public = generate_key("release")
    generate_key("stranger")
    served.trust.add_key("acme", "release", public.read_bytes(), "ops")
    plugin = publish(served.host, tmp_path, name="paged")
    sign(plugin.ref, "release", "-a", "ci=run-7")
    sign(plugin.ref, "stranger", "--referrer-only")
    url = f"{served.url}/api/v1/plugins/{plugin.repository}/versions/1.0.0/signatures"
    body = httpx.get(url).json()
    assert body["verified"] is True and body["digest"] == plugin.digest
    assert [(s["key"], s["annotations"]) for s in body["signatures"]] == [
        ("release", {"ci": "run-7"})]
    [rejected] = body["rejected"]
    assert "does not verify with the key acme/release" in rejected["reason"]
    assert httpx.get(url.replace("1.0.0", "9.9.9")).status_code == 404

    html = httpx.get(f"{served.url}/plugins/{plugin.repository}").text
    assert 'id="signatures"' in html
    assert html.count("Signed by acme/release") >= 2  # head badge + section
    assert "ci=run-7" in html and "Not verified" in html
    assert "<script>" not in html.split('id="signatures"', 1)[1].split("</section>", 1)[0]
    zh = httpx.get(f"{served.url}/plugins/{plugin.repository}", params={"lang": "zh"}).text
    assert "签名者 acme/release" in zh
    search = httpx.get(f"{served.url}/search", params={"signed": "yes"}).text
    assert "paged" in search and "Signed by a trusted key" in search
