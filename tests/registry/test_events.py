"""Registry events: veto before commit, publish after, fetch and delete notifications."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.registry.conftest import Registry, digest_of, error_code
from wasmhub.errors import InputError
from wasmhub.events import Event, ManifestDeleted, ManifestFetched, ManifestPushed
from wasmhub.registry.models import Manifest, Tag
from wasmhub.registry.service import RegistryService


def test_pushed_fetched_deleted(registry: Registry) -> None:
    seen: list[Event] = []
    registry.hub.events.subscribe(seen.append)
    digest, payload = registry.push_image("ev/repo", "v1")
    pushed = [e for e in seen if isinstance(e, ManifestPushed)]
    assert len(pushed) == 1
    assert pushed[0].repository == "ev/repo" and pushed[0].digest == digest
    assert pushed[0].tag == "v1" and pushed[0].payload == payload
    registry.client.head("/v2/ev/repo/manifests/v1")
    assert not any(isinstance(e, ManifestFetched) for e in seen)  # HEAD is not a download
    registry.client.get("/v2/ev/repo/manifests/v1")
    assert ManifestFetched("ev/repo", digest, "v1") in seen
    registry.put_manifest("ev/repo", "v2", payload)
    registry.client.delete(f"/v2/ev/repo/manifests/{digest}")
    assert ManifestDeleted("ev/repo", digest, ("v1", "v2")) in seen


def test_veto_rejects_before_anything_is_stored(registry: Registry) -> None:
    calls: list[str] = []

    def refuse(event: Event) -> None:
        if isinstance(event, ManifestPushed):
            raise InputError("layer 0 is not a valid Wasm module")

    registry.hub.events.subscribe(refuse, veto=True)
    registry.hub.events.subscribe(lambda e: calls.append(type(e).__name__))
    payload = registry.image("veto")
    r = registry.put_manifest("veto", "v1", payload)
    assert r.status_code == 400 and error_code(r) == "MANIFEST_INVALID"
    assert r.json()["errors"][0]["message"] == "layer 0 is not a valid Wasm module"
    assert calls == []
    with registry.hub.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Manifest)) == 0
        assert session.scalar(select(func.count()).select_from(Tag)) == 0
    assert registry.hub.storage.stat(digest_of(payload)) is None


def test_service_api_used_directly(registry: Registry) -> None:
    """The contract other parts (catalog, seed) call without HTTP."""
    service = RegistryService(registry.hub)
    config = service.put_blob("direct/one", b"{}")
    layer = service.put_blob("direct/one", b"\0asm", digest_of(b"\0asm"))
    payload = registry.image("direct/one", b"\0asm")
    assert digest_of(b"{}") == config
    digest = service.put_manifest("direct/one", "v1", payload,
                                  "application/vnd.oci.image.manifest.v1+json")
    assert service.get_manifest("direct/one", "v1") == (
        payload, "application/vnd.oci.image.manifest.v1+json", digest)
    with service.open_blob("direct/one", layer) as f:
        assert f.read() == b"\0asm"
    assert service.list_tags("direct/one") == ["v1"]
    assert service.list_repositories() == ["direct/one"]
    service.delete_manifest("direct/one", "v1")
    assert service.list_tags("direct/one") == []
