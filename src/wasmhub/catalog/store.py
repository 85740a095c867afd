"""Writes to the catalog tables: record/remove versions, recompute a plugin, counters.

The indexer and the service's mutating methods call these inside one session; nothing
here commits. A plugin's shown metadata comes from its *latest* version (highest semver
tag that is not yanked, else the newest push), overridden by what a user typed when
adding it by URL.

Concurrency (several threads and worker processes index at once): every write to a
plugin first takes that plugin's row (created with ``INSERT … ON CONFLICT DO NOTHING``,
so concurrent first pushes cannot collide, then locked ``FOR UPDATE`` on PostgreSQL; on
SQLite the opening write takes the database's write lock). Writes to one plugin are so
serialised, always in the order plugin row, then version rows. The indexer records a
version only while the registry's tag still points at the version's digest, reading the
tag under a lock in the same transaction (:func:`record_version` with
``if_tag_current``): of several racing pushes of one tag, the catalog ends on the one
the registry holds, whatever order their events arrive in.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from wasmhub.catalog.models import CatalogFacet, CatalogPlugin, CatalogVersion, utcnow
from wasmhub.catalog.readme import plain_text
from wasmhub.catalog.search import forget_plugin_text, sync_plugin_text
from wasmhub.catalog.types import FacetKind, VersionRecord
from wasmhub.registry.db_ops import insert_for, tag_digest
from wasmhub.signing.index import signed_by

DEFAULT_NAMESPACE = "library"
_SEMVER_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def split_repository(repository: str) -> tuple[str, str]:
    """``team/auth/jwt`` → (``team``, ``auth/jwt``); ``jwt`` → (``library``, ``jwt``)."""
    if "/" in repository:
        namespace, name = repository.split("/", 1)
        return namespace, name
    return DEFAULT_NAMESPACE, repository


def semver_key(tag: str) -> tuple[int, int, int, int, str] | None:
    match = _SEMVER_RE.match(tag)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    # A release sorts above its pre-releases.
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def latest_version(versions: list[CatalogVersion]) -> CatalogVersion | None:
    if not versions:
        return None
    pool = [v for v in versions if not v.yanked] or versions
    released = [(key, v) for v in pool if (key := semver_key(v.tag)) is not None]
    if released:
        return max(released, key=lambda kv: kv[0])[1]
    return max(pool, key=lambda v: (_aware(v.created_at), v.id or 0))


def find_plugin(
    session: Session, namespace: str, name: str, *, lock: bool = False
) -> CatalogPlugin | None:
    statement = select(CatalogPlugin).where(
        CatalogPlugin.namespace == namespace, CatalogPlugin.name == name
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalar(statement)


def plugin_for_repository(
    session: Session, repository: str, *, create: bool
) -> CatalogPlugin | None:
    """The plugin of ``repository``, its row locked for this transaction (see above)."""
    if create:
        namespace, name = split_repository(repository)
        now = utcnow()
        # A write first: on SQLite it takes the write lock before anything is read.
        session.execute(
            insert_for(session, CatalogPlugin).values(
                repository=repository, namespace=namespace, name=name, display_name_en="",
                display_name_zh="", description_en="", description_zh="", category="",
                keywords=[], license="", source="", latest_version="", abi_version="",
                filter_types=[], platforms=[], readme_text="", search_text="", stars=0,
                downloads=0, created_at=now, updated_at=now,
            # No conflict target: both unique keys (repository; namespace+name) are
            # arbiters. With only one, PostgreSQL checks the other as a plain unique index
            # and two first pushes of one plugin can deadlock there.
            ).on_conflict_do_nothing()
        )
    return session.scalar(
        select(CatalogPlugin).where(CatalogPlugin.repository == repository)
        .with_for_update().execution_options(populate_existing=True)
    )


def record_version(
    session: Session, record: VersionRecord, *, if_tag_current: bool = False
) -> CatalogPlugin | None:
    """Insert or update the version ``record.tag``; user state on the row is kept.

    ``if_tag_current``: only while the registry's tag points at ``record.digest`` (read
    under lock); returns None, changing nothing, when the tag has moved on or is gone.
    """
    plugin = plugin_for_repository(session, record.repository, create=True)
    assert plugin is not None
    if if_tag_current and tag_digest(
        session, record.repository, record.tag, lock=True
    ) != record.digest:
        if not plugin.versions:
            refresh_plugin(session, plugin)  # created just now: drop it again
        return None
    version = session.scalar(
        select(CatalogVersion).where(
            CatalogVersion.plugin_id == plugin.id, CatalogVersion.tag == record.tag
        )
    )
    changed = version is None or version.digest != record.digest
    if version is None:
        version = CatalogVersion(
            plugin_id=plugin.id, tag=record.tag, downloads=0, deprecated=False, yanked=False
        )
        session.add(version)
    elif changed:
        # The tag moved to new content: the old version's deprecation does not carry over.
        version.deprecated, version.deprecation_reason = False, None
        version.yanked, version.yank_reason = False, None
    if record.created_at is not None:
        version.created_at = record.created_at
    elif changed:
        version.created_at = utcnow()
    _copy_record(version, record)
    session.flush()
    refresh_plugin(session, plugin)
    return plugin


def _copy_record(version: CatalogVersion, record: VersionRecord) -> None:
    """The derived fields of a version row, from what the indexer found."""
    version.digest = record.digest
    version.media_type = record.media_type
    version.layout = record.layout
    version.size = record.size
    version.display_name_en = record.display_name.en
    version.display_name_zh = record.display_name.zh
    version.description_en = record.description.en
    version.description_zh = record.description.zh
    version.category = record.category
    version.keywords = list(record.keywords)
    version.license = record.license
    version.source = record.source
    version.root_id = record.root_id
    version.phase = record.phase
    version.priority = record.priority
    version.config_schema = record.config_schema
    version.example_config = record.example_config
    version.abi_version = record.abi_version
    version.is_proxy_wasm = record.is_proxy_wasm
    version.filter_types = sorted(record.filter_types)
    version.imports = list(record.imports)
    version.wasi = record.wasi
    version.language = record.language
    version.platforms = list(record.platforms)
    version.module_sha256 = record.module_sha256
    version.module_size = record.module_size
    version.inspection = record.inspection
    version.readme_en = record.readme.en
    version.readme_zh = record.readme.zh
    version.icon_media_type = record.icon_media_type
    version.icon = record.icon


def refresh_plugin(session: Session, plugin: CatalogPlugin) -> None:
    """Recompute a plugin's shown fields, facets and search text from its versions."""
    versions = list(
        session.scalars(select(CatalogVersion).where(CatalogVersion.plugin_id == plugin.id))
    )
    latest = latest_version(versions)
    if latest is None:
        forget_plugin_text(session, plugin.id)
        session.delete(plugin)
        session.flush()
        return
    plugin.display_name_en = (
        plugin.registered_display_name_en or latest.display_name_en or plugin.name
    )
    plugin.display_name_zh = plugin.registered_display_name_zh or latest.display_name_zh
    plugin.description_en = plugin.registered_description_en or latest.description_en
    plugin.description_zh = plugin.registered_description_zh or latest.description_zh
    plugin.category = latest.category
    plugin.keywords = list(latest.keywords)
    plugin.license = latest.license
    plugin.source = latest.source
    plugin.latest_version = latest.tag
    plugin.abi_version = latest.abi_version
    plugin.filter_types = list(latest.filter_types)
    plugin.platforms = list(latest.platforms)
    plugin.readme_text = plain_text(latest.readme_en + "\n\n" + latest.readme_zh)
    plugin.updated_at = max(_aware(v.created_at) for v in versions)
    plugin.created_at = min(_aware(v.created_at) for v in versions)
    _write_facets(session, plugin)
    sync_plugin_text(session, plugin)


def plugin_latest_digest(session: Session, plugin: CatalogPlugin) -> str:
    digest = session.scalar(select(CatalogVersion.digest).where(
        CatalogVersion.plugin_id == plugin.id, CatalogVersion.tag == plugin.latest_version))
    return digest or ""


def _write_facets(session: Session, plugin: CatalogPlugin) -> None:
    values: set[tuple[str, str]] = {(FacetKind.NAMESPACE.value, plugin.namespace)}
    if plugin.category:
        values.add((FacetKind.CATEGORY.value, plugin.category))
    if plugin.abi_version:
        values.add((FacetKind.ABI.value, plugin.abi_version))
    values.update((FacetKind.FILTER_TYPE.value, v) for v in plugin.filter_types)
    values.update((FacetKind.PLATFORM.value, v) for v in plugin.platforms)
    if signed_by(session, plugin.repository, [plugin_latest_digest(session, plugin)]):
        values.add((FacetKind.SIGNED.value, "yes"))
    session.execute(delete(CatalogFacet).where(CatalogFacet.plugin_id == plugin.id))
    session.add_all(
        CatalogFacet(plugin_id=plugin.id, kind=kind, value=value[:128])
        for kind, value in sorted(values)
    )
    session.flush()


def remove_versions(
    session: Session, repository: str, *, digest: str | None = None, tags: tuple[str, ...] = (),
    unless_tag_current: bool = False,
) -> None:
    """Drop the versions with ``digest`` or one of ``tags``; drop the plugin if none remain.

    ``unless_tag_current``: keep a version whose tag the registry points at its digest
    now (a push that re-created the tag won the race against this removal).
    """
    plugin = plugin_for_repository(session, repository, create=False)
    if plugin is None:
        return
    stmt = delete(CatalogVersion).where(CatalogVersion.plugin_id == plugin.id)
    matches = []
    if digest:
        matches.append(CatalogVersion.digest == digest)
    if tags:
        matches.append(CatalogVersion.tag.in_(tags))
    if not matches:
        return
    if unless_tag_current:
        doomed = session.execute(
            select(CatalogVersion.tag, CatalogVersion.digest)
            .where(CatalogVersion.plugin_id == plugin.id, or_(*matches))
        ).all()
        keep = [tag for tag, at in doomed if tag_digest(session, repository, tag, lock=True) == at]
        if keep:
            stmt = stmt.where(CatalogVersion.tag.not_in(keep))
    session.execute(stmt.where(or_(*matches)))
    session.flush()
    session.expire(plugin)
    refresh_plugin(session, plugin)


def count_download(session: Session, repository: str, digest: str, reference: str,
                   amount: int = 1) -> bool:
    """Add ``amount`` downloads to the fetched version (by tag, else every tag of the
    digest; Redis-buffered counts arrive in batches, see catalog/downloads.py).

    Runs on every manifest GET, so it is three small statements rather than ORM loads,
    and the increments happen in SQL: concurrent pulls in several workers all count.
    """
    # The plugin row first (FOR UPDATE), as every catalog write: no lock-order deadlock
    # with a concurrent index of the same plugin on PostgreSQL.
    plugin_id = session.scalar(
        select(CatalogPlugin.id).where(CatalogPlugin.repository == repository)
        .with_for_update()
    )
    if plugin_id is None:
        return False  # not a plugin (or not indexed): nothing to count
    bump = update(CatalogVersion).values(downloads=CatalogVersion.downloads + amount)
    of_digest = (CatalogVersion.plugin_id == plugin_id, CatalogVersion.digest == digest)
    counted = session.execute(
        bump.where(*of_digest, CatalogVersion.tag == reference)
    ).rowcount  # type: ignore[attr-defined]
    if not counted:
        counted = session.execute(bump.where(*of_digest)).rowcount  # type: ignore[attr-defined]
    if not counted:
        return False
    session.execute(
        update(CatalogPlugin)
        .where(CatalogPlugin.id == plugin_id)
        .values(downloads=CatalogPlugin.downloads + amount)
    )
    return True
