"""The catalog follows real registry pushes, deletes and pulls; reindex rebuilds it."""

from __future__ import annotations

import json

import pytest

from tests.catalog.publish import packed_plugin, push
from wasmhub.catalog.indexer import CatalogIndexer
from wasmhub.catalog.service import CatalogService
from wasmhub.catalog.types import SearchQuery
from wasmhub.errors import NotFoundError
from wasmhub.hub import Hub
from wasmhub.registry.service import RegistryService
from wasmhub.wasm import ImageLayout


@pytest.fixture
def catalog(hub: Hub) -> CatalogService:
    # Hub.open subscribes the indexer: pushes below reach the catalog with no wiring here.
    return CatalogService(hub)


def test_push_indexes_metadata_facts_readme_and_icon(hub: Hub, catalog: CatalogService) -> None:
    image = packed_plugin(
        "add-header", "1.2.0", en="Add header", zh="添加请求头", description="Adds a header",
        keywords=("headers", "request"), readme="# Add header\n\n<script>x</script>Hi",
        icon=True,
    )
    digest = push(hub, "acme/add-header", "1.2.0", image)
    plugin = catalog.get_plugin("acme", "add-header")
    summary = plugin.summary
    assert (summary.display_name.en, summary.display_name.zh) == ("Add header", "添加请求头")
    assert summary.latest_version == "1.2.0" and summary.abi_version == "0.2.1"
    assert summary.filter_types == ("http",) and summary.category == "traffic"
    assert "istio" in summary.platforms and summary.keywords == ("headers", "request")
    assert plugin.has_icon and catalog.get_icon("acme", "add-header").media_type == "image/png"
    assert "<script" not in plugin.readme_html.en and "<h1>Add header</h1>" in plugin.readme_html.en
    version = catalog.get_version("acme", "add-header", "1.2.0")
    assert version.version.digest == digest and version.version.layout == "compat"
    assert version.root_id == "add_header" and version.phase == "AUTHZ"
    assert version.priority == 50 and version.example_config == {"header": "x-demo"}
    assert version.config_schema == {
        "type": "object", "properties": {"header": {"type": "string"}}
    }
    assert "env.proxy_log" in version.imports and version.is_proxy_wasm
    assert version.inspection["compatibility"] and version.module_size > 0
    assert version.version.size > version.module_size
    assert catalog.search(SearchQuery(q="请求头")).total == 1
    assert catalog.search(SearchQuery(q="headers")).total == 1


def test_single_component_repository_is_library(hub: Hub, catalog: CatalogService) -> None:
    push(hub, "solo", "v1", packed_plugin("solo", layout=ImageLayout.OCI))
    plugin = catalog.get_plugin("library", "solo")
    assert plugin.summary.display_name.en == "solo"  # no plugin.yaml: the name
    assert plugin.versions[0].layout == "oci"


def test_non_plugin_images_are_not_indexed(hub: Hub, catalog: CatalogService) -> None:
    registry = RegistryService(hub)
    config = b"{}"
    config_digest = registry.put_blob("acme/app", config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }).encode()
    registry.put_manifest("acme/app", "1", manifest, "application/vnd.oci.image.manifest.v1+json")
    assert catalog.search(SearchQuery()).total == 0


def test_downloads_tags_and_deletes(hub: Hub, catalog: CatalogService) -> None:
    registry = RegistryService(hub)
    first = push(hub, "acme/rl", "1.0.0", packed_plugin("rl", "1.0.0", en="RL"))
    push(hub, "acme/rl", "1.1.0", packed_plugin("rl", "1.1.0", en="RL two"))
    assert catalog.get_plugin("acme", "rl").summary.latest_version == "1.1.0"
    assert catalog.get_plugin("acme", "rl").summary.display_name.en == "RL two"
    registry.get_manifest("acme/rl", "1.0.0")
    registry.get_manifest("acme/rl", "1.0.0")
    registry.get_manifest("acme/rl", first)
    versions = {v.tag: v.downloads for v in catalog.list_versions("acme", "rl")}
    assert versions == {"1.0.0": 3, "1.1.0": 0}
    assert catalog.get_plugin("acme", "rl").summary.downloads == 3
    registry.delete_manifest("acme/rl", "1.1.0")  # by tag
    assert [v.tag for v in catalog.list_versions("acme", "rl")] == ["1.0.0"]
    assert catalog.get_plugin("acme", "rl").summary.display_name.en == "RL"
    registry.delete_manifest("acme/rl", first)  # by digest: the plugin disappears
    with pytest.raises(NotFoundError):
        catalog.get_plugin("acme", "rl")


def test_reindex_rebuilds_from_blobs_and_keeps_user_state(hub: Hub) -> None:
    # A Hub built directly (not Hub.open) has no standing subscribers: pushes through
    # it leave the catalog as it was, like a database restored from an old backup.
    hub = Hub(settings=hub.settings, database=hub.database)
    push(hub, "acme/aa", "1.0.0", packed_plugin("aa", en="Alpha"))
    push(hub, "acme/bb", "2.0.0", packed_plugin("bb", "2.0.0", en="Beta"))
    catalog = CatalogService(hub)
    assert catalog.search(SearchQuery()).total == 0
    indexer = CatalogIndexer(hub, catalog)
    report = indexer.reindex()
    assert (report.repositories, report.versions, report.removed, report.errors) == (2, 2, 0, [])
    catalog.star("acme", "aa", "ann")
    catalog.deprecate("acme", "aa", "1.0.0", "use b")
    # A stale entry (tag gone from the registry) is dropped; user state survives.
    RegistryService(hub).delete_manifest("acme/bb", "2.0.0")
    assert catalog.get_plugin("acme", "bb")  # no subscriber: still indexed
    again = indexer.reindex()
    assert again.removed == 1 and again.versions == 1
    with pytest.raises(NotFoundError):
        catalog.get_plugin("acme", "bb")
    plugin = catalog.get_plugin("acme", "aa")
    assert plugin.summary.stars == 1 and plugin.versions[0].deprecated
    assert plugin.summary.downloads == 0  # reindex reads blobs, it does not "pull"
