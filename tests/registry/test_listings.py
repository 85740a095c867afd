"""Tags list, _catalog and the referrers API, with pagination and filters."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

from tests.registry.conftest import Registry, digest_of, error_code
from wasmhub.oci.media_types import MediaType


def test_tags_sorted_and_paginated(registry: Registry) -> None:
    _, payload = registry.push_image("t", "v1")
    tags = ["b", "A", "a", "v1", "_x", "Z9", "latest", "v1.10", "v1.2"]
    for tag in tags:
        assert registry.put_manifest("t", tag, payload).status_code == 201
    expected = sorted(set(tags))  # byte order: uppercase before lowercase
    r = registry.client.get("/v2/t/tags/list")
    assert r.status_code == 200
    assert r.json() == {"name": "t", "tags": expected}
    assert "Link" not in r.headers

    seen: list[str] = []
    url = "/v2/t/tags/list?n=4"
    while url:
        r = registry.client.get(url)
        page = r.json()["tags"]
        assert len(page) <= 4
        seen += page
        link = r.headers.get("Link")
        if link:
            target = link.split(";")[0].strip("<>")
            assert 'rel="next"' in link and parse_qs(urlparse(target).query)["n"] == ["4"]
            url = target
        else:
            url = ""
    assert seen == expected
    r = registry.client.get("/v2/t/tags/list", params={"last": "latest"})
    assert r.json()["tags"] == [t for t in expected if t > "latest"]
    assert registry.client.get("/v2/t/tags/list?n=0").json()["tags"] == []


def test_tags_errors(registry: Registry) -> None:
    r = registry.client.get("/v2/unknown/tags/list")
    assert r.status_code == 404 and error_code(r) == "NAME_UNKNOWN"
    r = registry.client.get("/v2/UPPER/tags/list")
    assert r.status_code == 400 and error_code(r) == "NAME_INVALID"
    registry.push_blob("known", b"x")
    assert registry.client.get("/v2/known/tags/list").json() == {"name": "known", "tags": []}
    for n in ("abc", "-1"):
        r = registry.client.get(f"/v2/known/tags/list?n={n}")
        assert r.status_code == 400 and error_code(r) == "PAGINATION_NUMBER_INVALID"


def test_catalog(registry: Registry) -> None:
    names = ["zeta", "alpha/one", "alpha/two", "beta"]
    for name in names:
        registry.push_blob(name, b"x")
    r = registry.client.get("/v2/_catalog")
    assert r.json() == {"repositories": sorted(names)}
    r = registry.client.get("/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["alpha/one", "alpha/two"]
    assert r.headers["Link"] == '</v2/_catalog?n=2&last=alpha%2Ftwo>; rel="next"'
    r = registry.client.get("/v2/_catalog?n=2&last=alpha%2Ftwo")
    assert r.json()["repositories"] == ["beta", "zeta"]
    assert "Link" not in r.headers


def test_referrers(registry: Registry) -> None:
    subject_digest, subject = registry.push_image("art", "v1")
    descriptor = {"mediaType": MediaType.OCI_MANIFEST.value, "digest": subject_digest,
                  "size": len(subject)}
    sig = registry.image("art", b"signature", subject=descriptor,
                         artifactType="application/vnd.example.sig",
                         annotations={"org.example": "yes"})
    r = registry.put_manifest("art", digest_of(sig), sig)
    assert r.status_code == 201 and r.headers["OCI-Subject"] == subject_digest
    sbom = registry.image("art", b"sbom", subject=descriptor)
    assert registry.put_manifest("art", digest_of(sbom), sbom).status_code == 201

    r = registry.client.get(f"/v2/art/referrers/{subject_digest}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == MediaType.OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == MediaType.OCI_INDEX
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert by_digest[digest_of(sig)] == {
        "mediaType": MediaType.OCI_MANIFEST.value, "digest": digest_of(sig), "size": len(sig),
        "artifactType": "application/vnd.example.sig", "annotations": {"org.example": "yes"},
    }
    # Without artifactType the config media type stands in (OCI 1.1).
    assert by_digest[digest_of(sbom)]["artifactType"] == MediaType.OCI_CONFIG
    assert "OCI-Filters-Applied" not in r.headers

    r = registry.client.get(f"/v2/art/referrers/{subject_digest}",
                            params={"artifactType": "application/vnd.example.sig"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [digest_of(sig)]


def test_referrers_of_unknown_subject_and_bad_digest(registry: Registry) -> None:
    r = registry.client.get(f"/v2/art/referrers/{digest_of(b'none')}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    r = registry.client.get("/v2/art/referrers/sha256:nothex")
    assert r.status_code == 400 and error_code(r) == "DIGEST_INVALID"


def test_subject_may_be_pushed_before_its_target(registry: Registry) -> None:
    missing = digest_of(b"later")
    sig = registry.image("art", b"sig", subject={
        "mediaType": MediaType.OCI_MANIFEST.value, "digest": missing, "size": 5})
    r = registry.put_manifest("art", digest_of(sig), sig)
    assert r.status_code == 201 and r.headers["OCI-Subject"] == missing
    listed = registry.client.get(f"/v2/art/referrers/{missing}").json()["manifests"]
    assert [m["digest"] for m in listed] == [digest_of(sig)]
    assert json.loads(sig)["subject"]["digest"] == missing
