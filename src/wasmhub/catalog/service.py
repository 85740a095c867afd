"""CatalogService: the one entry point the REST API and the web UI use for the catalog.

``CatalogService(hub)``; every method opens its own transaction and returns frozen views
from :mod:`wasmhub.catalog.types` (never ORM rows). Errors are from ``wasmhub.errors``.

Reading
    ``search(SearchQuery) -> SearchPage``: full text + filters + sort + page.
    ``facets(SearchQuery) -> dict[FacetKind, list[FacetCount]]``: counts over the matches.
    ``categories() -> list[FacetCount]``: every category with its plugin count.
    ``popular(limit=10)`` / ``recent(limit=10) -> list[PluginSummary]``.
    ``get_plugin(namespace, name, user=None) -> PluginDetail`` (NotFoundError).
    ``list_versions(namespace, name) -> list[VersionSummary]``, newest first.
    ``get_version(namespace, name, tag) -> VersionDetail`` with README HTML (sanitized),
    config schema, example config, inspector facts and install snippets.
    ``get_icon(namespace, name, tag=None) -> Icon`` (NotFoundError when it has none).

Changing (``user`` is the signed-in username; callers check permissions first with
:meth:`wasmhub.authz.access.AccessService.require`; ``SearchQuery.visible`` and the
``visible`` arguments say which private plugins a listing may show)
    ``star(namespace, name, user) -> int`` / ``unstar(...) -> int``: idempotent; returns
    the new star count.
    ``deprecate(namespace, name, tag, reason, *, undo=False) -> VersionSummary``.
    ``yank(namespace, name, tag, reason, *, undo=False) -> VersionSummary``.
    ``add_by_url(Registration) -> PluginDetail``: fetch (oci:// or https://….wasm), check,
    store in our registry, index; see :mod:`wasmhub.catalog.fetch`. Nothing is stored
    when it fails.

Indexing (called by :mod:`wasmhub.catalog.indexer`)
    ``record_version(VersionRecord, if_tag_current=)``,
    ``remove_versions(repository, digest=, tags=, unless_tag_current=)``,
    ``count_download(repository, digest, reference)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wasmhub.authz.access import ReadScope
from wasmhub.catalog import search as search_queries
from wasmhub.catalog import store
from wasmhub.catalog.fuzzy import correct_query
from wasmhub.catalog.models import CatalogPlugin, CatalogStar, CatalogVersion
from wasmhub.catalog.readme import render_markdown
from wasmhub.catalog.snippets import install_snippets
from wasmhub.catalog.types import (
    FacetCount,
    FacetKind,
    Icon,
    InstallSnippets,
    Localized,
    PluginDetail,
    PluginSummary,
    Registration,
    SearchPage,
    SearchQuery,
    SortOrder,
    VersionDetail,
    VersionRecord,
    VersionSummary,
)
from wasmhub.errors import InputError, NotFoundError
from wasmhub.signing.index import signed_by

if TYPE_CHECKING:
    from wasmhub.hub import Hub

MAX_PER_PAGE = 100
MAX_REASON = 1000


def summary_of(plugin: CatalogPlugin) -> PluginSummary:
    return PluginSummary(
        namespace=plugin.namespace,
        name=plugin.name,
        display_name=Localized(plugin.display_name_en, plugin.display_name_zh),
        description=Localized(plugin.description_en, plugin.description_zh),
        category=plugin.category,
        keywords=tuple(plugin.keywords or ()),
        latest_version=plugin.latest_version,
        abi_version=plugin.abi_version,
        filter_types=tuple(plugin.filter_types or ()),
        platforms=tuple(plugin.platforms or ()),
        stars=plugin.stars,
        downloads=plugin.downloads,
        created_at=store._aware(plugin.created_at),
        updated_at=store._aware(plugin.updated_at),
    )


def version_summary_of(version: CatalogVersion,
                       signed: dict[str, list[str]] | None = None) -> VersionSummary:
    return VersionSummary(
        tag=version.tag,
        digest=version.digest,
        layout=version.layout,
        size=version.size,
        created_at=store._aware(version.created_at),
        abi_version=version.abi_version,
        downloads=version.downloads,
        deprecated=version.deprecated,
        deprecation_reason=version.deprecation_reason,
        yanked=version.yanked,
        yank_reason=version.yank_reason,
        signed_by=tuple((signed or {}).get(version.digest, ())),
    )


def _newest_first(versions: list[CatalogVersion]) -> list[CatalogVersion]:
    return sorted(
        versions,
        key=lambda v: (store.semver_key(v.tag) or (-1, 0, 0, 0, ""), store._aware(v.created_at)),
        reverse=True,
    )


class CatalogService:
    """Catalog reads and writes for the API, the web UI, the indexer and the CLI."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.hub.database.session() as session:
            yield session

    # -- reading -------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        _check_page(query)
        corrected: str | None = None
        with self._session() as session:
            plugins, total = search_queries.search_plugins(session, query)
            if total == 0 and query.q.strip():
                corrected = correct_query(session, query.q)
            if corrected is not None:
                plugins, total = search_queries.search_plugins(
                    session, dataclasses.replace(query, q=corrected))
            items = tuple(summary_of(p) for p in plugins)
        return SearchPage(items=items, total=total, page=query.page, per_page=query.per_page,
                          corrected_q=corrected if total else None)

    def facets(self, query: SearchQuery) -> dict[FacetKind, list[FacetCount]]:
        """Facet counts of ``query`` (pass ``SearchPage.corrected_q`` as ``q`` if it was set)."""
        with self._session() as session:
            return search_queries.facet_counts(session, query)

    def categories(self, visible: ReadScope | None = None) -> list[FacetCount]:
        with self._session() as session:
            counts = search_queries.facet_counts(
                session, SearchQuery(visible=visible), [FacetKind.CATEGORY])
        return counts[FacetKind.CATEGORY]

    def popular(self, limit: int = 10, visible: ReadScope | None = None
                ) -> list[PluginSummary]:
        page = self.search(SearchQuery(sort=SortOrder.DOWNLOADS, per_page=_limit(limit),
                                       visible=visible))
        return list(page.items)

    def recent(self, limit: int = 10, visible: ReadScope | None = None
               ) -> list[PluginSummary]:
        page = self.search(SearchQuery(sort=SortOrder.UPDATED, per_page=_limit(limit),
                                       visible=visible))
        return list(page.items)

    def get_plugin(self, namespace: str, name: str, user: str | None = None) -> PluginDetail:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name)
            versions = _newest_first(list(plugin.versions))
            latest = next((v for v in versions if v.tag == plugin.latest_version), None)
            signed = signed_by(session, plugin.repository)
            starred = bool(user) and session.get(CatalogStar, (plugin.id, user)) is not None
            return PluginDetail(
                summary=summary_of(plugin),
                license=plugin.license,
                source=plugin.source,
                origin_url=plugin.origin_url,
                has_icon=latest is not None and latest.icon is not None,
                readme_html=Localized(
                    render_markdown(latest.readme_en) if latest else "",
                    render_markdown(latest.readme_zh) if latest else "",
                ),
                versions=tuple(version_summary_of(v, signed) for v in versions),
                starred_by_user=starred,
            )

    def list_versions(self, namespace: str, name: str) -> list[VersionSummary]:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name)
            signed = signed_by(session, plugin.repository)
            return [version_summary_of(v, signed) for v in _newest_first(list(plugin.versions))]

    def get_version(self, namespace: str, name: str, tag: str) -> VersionDetail:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name)
            version = self._version(session, plugin, tag)
            return VersionDetail(
                namespace=plugin.namespace,
                name=plugin.name,
                version=version_summary_of(
                    version, signed_by(session, plugin.repository, [version.digest])),
                media_type=version.media_type,
                display_name=Localized(
                    version.display_name_en or plugin.display_name_en, version.display_name_zh
                ),
                description=Localized(version.description_en, version.description_zh),
                category=version.category,
                keywords=tuple(version.keywords or ()),
                license=version.license,
                source=version.source,
                root_id=version.root_id,
                phase=version.phase,
                priority=version.priority,
                config_schema=version.config_schema,
                example_config=version.example_config,
                is_proxy_wasm=version.is_proxy_wasm,
                filter_types=tuple(version.filter_types or ()),
                imports=tuple(version.imports or ()),
                wasi=version.wasi,
                language=version.language,
                platforms=tuple(version.platforms or ()),
                module_sha256=version.module_sha256,
                module_size=version.module_size,
                inspection=dict(version.inspection or {}),
                readme_html=Localized(
                    render_markdown(version.readme_en), render_markdown(version.readme_zh)
                ),
                snippets=self.snippets(plugin, version),
            )

    def get_icon(self, namespace: str, name: str, tag: str | None = None) -> Icon:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name)
            version = self._version(session, plugin, tag or plugin.latest_version)
            if version.icon is None or not version.icon_media_type:
                raise NotFoundError(f"{namespace}/{name}:{version.tag} has no icon")
            return Icon(media_type=version.icon_media_type, data=version.icon)

    def snippets(self, plugin: CatalogPlugin, version: CatalogVersion) -> InstallSnippets:
        """All install snippets, pinned by the manifest digest, with the example config."""
        return install_snippets(
            base_url=self.hub.settings.base_url, namespace=plugin.namespace,
            name=plugin.name, version=version.tag, digest=version.digest,
            module_sha256=version.module_sha256, plugin_config=version.example_config,
            phase=version.phase, priority=version.priority, root_id=version.root_id,
            filter_types=tuple(version.filter_types or ()),
            platforms=tuple(version.platforms or ()),
        )

    # -- changing ------------------------------------------------------------------

    def star(self, namespace: str, name: str, user: str) -> int:
        user = _check_user(user)
        with self._session() as session:
            plugin = self._plugin(session, namespace, name, lock=True)
            if session.get(CatalogStar, (plugin.id, user)) is None:
                session.add(CatalogStar(plugin_id=plugin.id, user=user))
                session.flush()
            return self._recount_stars(session, plugin)

    def unstar(self, namespace: str, name: str, user: str) -> int:
        user = _check_user(user)
        with self._session() as session:
            plugin = self._plugin(session, namespace, name, lock=True)
            session.execute(
                delete(CatalogStar).where(
                    CatalogStar.plugin_id == plugin.id, CatalogStar.user == user
                )
            )
            return self._recount_stars(session, plugin)

    def deprecate(
        self, namespace: str, name: str, tag: str, reason: str, *, undo: bool = False
    ) -> VersionSummary:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name, lock=True)
            version = self._version(session, plugin, tag)
            version.deprecated = not undo
            version.deprecation_reason = None if undo else _check_reason(reason)
            session.flush()
            return version_summary_of(version)

    def yank(
        self, namespace: str, name: str, tag: str, reason: str, *, undo: bool = False
    ) -> VersionSummary:
        with self._session() as session:
            plugin = self._plugin(session, namespace, name, lock=True)
            version = self._version(session, plugin, tag)
            version.yanked = not undo
            version.yank_reason = None if undo else _check_reason(reason)
            session.flush()
            store.refresh_plugin(session, plugin)
            return version_summary_of(version)

    def add_by_url(self, registration: Registration) -> PluginDetail:
        namespace, name = self.hub.importer.add(self, registration)
        return self.get_plugin(namespace, name)

    def set_registration(self, repository: str, registration: Registration) -> None:
        """Remember what the user typed for an added plugin (wins over plugin.yaml)."""
        with self._session() as session:
            plugin = store.plugin_for_repository(session, repository, create=False)
            if plugin is None:
                raise NotFoundError(f"{repository} is not in the catalog")
            plugin.registered_display_name_en = registration.display_name.en or None
            plugin.registered_display_name_zh = registration.display_name.zh or None
            plugin.registered_description_en = registration.description.en or None
            plugin.registered_description_zh = registration.description.zh or None
            plugin.origin_url = registration.url
            store.refresh_plugin(session, plugin)

    # -- indexing ------------------------------------------------------------------

    def record_version(self, record: VersionRecord, *, if_tag_current: bool = False) -> bool:
        """Upsert a version; with ``if_tag_current`` only while the registry's tag still
        points at ``record.digest`` (False when it has moved on: nothing changed)."""
        with self._session() as session:
            return store.record_version(
                session, record, if_tag_current=if_tag_current
            ) is not None

    def remove_versions(
        self, repository: str, *, digest: str | None = None, tags: tuple[str, ...] = (),
        unless_tag_current: bool = False,
    ) -> None:
        with self._session() as session:
            store.remove_versions(session, repository, digest=digest, tags=tags,
                                  unless_tag_current=unless_tag_current)

    def count_download(self, repository: str, digest: str, reference: str) -> bool:
        with self._session() as session:
            return store.count_download(session, repository, digest, reference)

    def refresh_plugin(self, repository: str) -> None:
        """Recompute a plugin's facets (e.g. ``signed``) after its signatures changed."""
        with self._session() as session:
            plugin = store.plugin_for_repository(session, repository, create=False)
            if plugin is not None:
                store.refresh_plugin(session, plugin)

    def indexed_tags(self) -> dict[str, dict[str, str]]:
        """repository → {tag: digest} for everything in the index (reindex compares)."""
        with self._session() as session:
            rows = session.execute(
                select(CatalogPlugin.repository, CatalogVersion.tag, CatalogVersion.digest)
                .join(CatalogVersion, CatalogVersion.plugin_id == CatalogPlugin.id)
            )
            result: dict[str, dict[str, str]] = {}
            for repository, tag, digest in rows:
                result.setdefault(repository, {})[tag] = digest
            return result

    # -- helpers -------------------------------------------------------------------

    def _plugin(
        self, session: Session, namespace: str, name: str, *, lock: bool = False
    ) -> CatalogPlugin:
        """``lock``: for writes, which take the plugin row first (see catalog.store)."""
        plugin = store.find_plugin(session, namespace, name, lock=lock)
        if plugin is None:
            raise NotFoundError(f"plugin {namespace}/{name} is not in the catalog")
        return plugin

    def _version(self, session: Session, plugin: CatalogPlugin, tag: str) -> CatalogVersion:
        version = session.scalar(
            select(CatalogVersion).where(
                CatalogVersion.plugin_id == plugin.id, CatalogVersion.tag == tag
            )
        )
        if version is None:
            raise NotFoundError(f"{plugin.namespace}/{plugin.name} has no version {tag!r}")
        return version

    def _recount_stars(self, session: Session, plugin: CatalogPlugin) -> int:
        count = session.scalar(
            select(func.count()).select_from(CatalogStar).where(CatalogStar.plugin_id == plugin.id)
        ) or 0
        plugin.stars = int(count)
        session.flush()
        return plugin.stars


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PER_PAGE))


def _check_page(query: SearchQuery) -> None:
    if query.page < 1:
        raise InputError("page must be 1 or more")
    if not 1 <= query.per_page <= MAX_PER_PAGE:
        raise InputError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if len(query.q) > 500:
        raise InputError("the search text is longer than 500 characters")


def _check_user(user: str) -> str:
    user = user.strip()
    if not user or len(user) > 255 or not user.isprintable():
        raise InputError("a user identity (1-255 printable characters) is required")
    return user


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InputError("a reason is required")
    if len(reason) > MAX_REASON:
        raise InputError(f"the reason is longer than {MAX_REASON} characters")
    return reason
