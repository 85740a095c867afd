"""Pushing real plugin images into the CNCF registry (plain OCI distribution calls),
and that registry served over TLS with a test certificate."""

from __future__ import annotations

import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.catalog.tls import LoopbackPKI
from tests.support.servers import RunningServer, distribution_binary, free_port
from wasmhub.wasm import PackedImage

TLS_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
  tls:
    certificate: {cert}
    key: {key}
"""


def push_image(base: str, repository: str, tag: str, image: PackedImage, *,
               verify: ssl.SSLContext | bool = True) -> str:
    """Monolithic blob uploads, then the manifest; returns the manifest digest."""
    with httpx.Client(base_url=base, verify=verify) as http:
        for blob in image.blobs():
            start = http.post(f"/v2/{repository}/blobs/uploads/")
            assert start.status_code == 202, start.text
            location = start.headers["location"]
            sep = "&" if "?" in location else "?"
            done = http.put(f"{location}{sep}digest={blob.digest}", content=blob.data,
                            headers={"Content-Type": "application/octet-stream"})
            assert done.status_code == 201, done.text
        put = http.put(f"/v2/{repository}/manifests/{tag}", content=image.manifest,
                       headers={"Content-Type": image.manifest_media_type})
        assert put.status_code == 201, put.text
        return put.headers["docker-content-digest"]


def trusting(pki: LoopbackPKI) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


@contextmanager
def running_tls_distribution(root: Path, pki: LoopbackPKI) -> Iterator[RunningServer]:
    """Debian's docker-registry on loopback, serving HTTPS with the test PKI's cert."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(TLS_CONFIG.format(root=root / "storage", port=port, cert=pki.cert,
                                        key=pki.key))
    log_path = root / "registry.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [distribution_binary(), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer("distribution-tls", f"https://127.0.0.1:{port}", port, proc, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited early:\n{server.log()}")
            try:
                httpx.get(server.url + "/v2/", timeout=1.0, verify=trusting(pki))
                break
            except httpx.TransportError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry (TLS) is not up:\n{server.log()}") from exc
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
