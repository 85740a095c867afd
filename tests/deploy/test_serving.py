"""/modules/sha256:<hex>.wasm: the raw module for proxies, from a real ``wasmhub serve``."""

from __future__ import annotations

import hashlib

import httpx

from .conftest import PublishedHub


def test_module_by_digest_with_caching_and_ranges(published_hub: PublishedHub) -> None:
    module = published_hub.module
    hex_digest = hashlib.sha256(module).hexdigest()
    url = f"{published_hub.server.url}/modules/sha256:{hex_digest}.wasm"
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == module
    assert response.headers["content-type"] == "application/wasm"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = response.headers["etag"]
    assert etag == f'"sha256:{hex_digest}"'
    assert int(response.headers["content-length"]) == len(module)

    again = httpx.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""

    part = httpx.get(url, headers={"Range": "bytes=0-7"}, timeout=30)
    assert part.status_code == 206
    assert part.content == module[:8] and part.content.startswith(b"\0asm")
    assert part.headers["content-range"] == f"bytes 0-7/{len(module)}"

    head = httpx.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b""
    # The file the hub extracted once is what it serves from then on.
    assert (published_hub.data_dir / "modules" / f"{hex_digest}.wasm").read_bytes() == module


def test_unknown_and_malformed_digests_are_404(published_hub: PublishedHub) -> None:
    base = published_hub.server.url
    for path in (f"/modules/sha256:{'0' * 64}.wasm", "/modules/sha256:abc.wasm",
                 f"/modules/{hashlib.sha256(published_hub.module).hexdigest()}.wasm",
                 f"/modules/sha256:{published_hub.manifest_digest[7:]}.wasm"):
        response = httpx.get(base + path, timeout=30)
        assert response.status_code == 404, path
        assert "not found" in response.text
