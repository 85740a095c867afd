"""An S3 endpoint for tests: moto's S3 emulator in server mode, on a free loopback port.

moto is an emulator, not a real object store; the driver is written for AWS S3, MinIO,
Ceph RGW and GCS's S3 API, and uses only calls they share (conditional PUTs included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.support.servers import free_port

# moto accepts any credentials; boto3 insists on having some.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "wasmhub-test", "AWS_SECRET_ACCESS_KEY": "wasmhub-test",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Endpoint:
    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            config=Config(retries={"max_attempts": 5, "mode": "standard"},
                          max_pool_connections=32),
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"wasmhub-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str) -> dict[str, str]:
        """What a ``wasmhub`` process needs to keep its blobs in ``bucket``."""
        return {**CREDENTIALS, "WASMHUB_STORAGE": "s3", "WASMHUB_S3_BUCKET": bucket,
                "WASMHUB_S3_ENDPOINT_URL": self.url, "WASMHUB_S3_ADDRESSING_STYLE": "path"}


@contextmanager
def running_moto(log_dir: Path) -> Iterator[S3Endpoint]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"moto-{port}.log").open("ab") as log:
        proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **CREDENTIALS})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {proc.returncode}")
            try:
                httpx.get(url + "/", timeout=2.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer in 60 s") from None
                time.sleep(0.1)
        yield S3Endpoint(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
