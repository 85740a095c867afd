"""fsck and gc, through the service layer and through the real ``wasmhub`` command."""

from __future__ import annotations

import json
import os
import subprocess

from sqlalchemy import func, select

from tests.registry.conftest import Registry, digest_of
from tests.support.servers import wasmhub_command
from wasmhub.oci.digest import Digest
from wasmhub.registry.maintenance import fsck, gc
from wasmhub.registry.models import Blob, RepositoryBlob
from wasmhub.storage import FilesystemBlobStore


def run_cli(registry: Registry, *args: str) -> subprocess.CompletedProcess[str]:
    settings = registry.hub.settings
    env = {**os.environ, "WASMHUB_DATA_DIR": str(settings.data_dir),
           "WASMHUB_DATABASE_URL": settings.effective_database_url}
    return subprocess.run([*wasmhub_command(), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_fsck_clean_then_corrupt(registry: Registry) -> None:
    registry.push_image("f", "v1", b"layer bytes")
    report = fsck(registry.hub)
    assert report.ok and report.checked == 3  # config, layer, manifest
    proc = run_cli(registry, "fsck", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True

    layer = digest_of(b"layer bytes")
    assert isinstance(registry.hub.storage, FilesystemBlobStore)
    path = registry.hub.storage.blob_path(Digest.parse(layer))
    path.write_bytes(b"bit rot")
    proc = run_cli(registry, "fsck", "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False
    assert data["corrupt"] == [{"digest": layer, "actual": digest_of(b"bit rot")}]
    path.unlink()
    assert fsck(registry.hub).missing_blobs == [layer]
    assert run_cli(registry, "fsck").returncode == 1


def test_gc_dry_run_and_delete(registry: Registry) -> None:
    registry.push_image("g", "v1", b"kept layer")
    orphan = registry.push_blob("g", b"orphan")
    # Within the grace period nothing is a candidate (a push may be under way).
    assert gc(registry.hub).blobs == []
    proc = run_cli(registry, "gc", "--json", "--grace-seconds", "0")
    assert proc.returncode == 0, proc.stderr
    dry = json.loads(proc.stdout)
    assert dry["deleted"] is False
    assert [b["digest"] for b in dry["blobs"]] == [orphan]
    assert registry.hub.storage.stat(orphan) is not None  # dry run leaves it

    upload = registry.client.post("/v2/g/blobs/uploads/").headers["Location"]
    proc = run_cli(registry, "gc", "--json", "--grace-seconds", "0", "--delete")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["blobs"] == [{"digest": orphan, "size": 6}]
    assert registry.hub.storage.stat(orphan) is None
    with registry.hub.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Blob).where(
            Blob.digest == orphan)) == 0
        assert session.scalar(select(func.count()).select_from(RepositoryBlob).where(
            RepositoryBlob.digest == orphan)) == 0
    # Everything a manifest references survives, and the in-flight upload too.
    assert registry.client.get("/v2/g/manifests/v1").status_code == 200
    assert registry.client.get(f"/v2/g/blobs/{digest_of(b'kept layer')}").status_code == 200
    assert registry.client.get(upload).status_code == 204
    assert fsck(registry.hub).ok

    report = gc(registry.hub, delete_now=True, grace_seconds=0, upload_max_age=0)
    assert report.uploads == [upload.rsplit("/", 1)[1]]
    assert registry.client.get(upload).status_code == 404
