"""The Hub: the process-wide services one wasmhub server or command works with.

Built once from Settings and passed explicitly (no globals): handlers reach it through
``request.app.state.hub``; CLI commands and tests construct their own.

Besides the infrastructure (settings, database, storage, event bus, the DNS resolver
add-by-URL uses) it holds the two process-wide limiters that must be shared by every
request whatever service object serves it: ``analyser`` (plugin image analysis with the
module size limit and bounded parallel unpacking) and ``importer`` (add-by-URL with its
cap on concurrent imports). Both are built once, on first use or by :meth:`open`. So is
``schema_evaluator``, the worker processes that evaluate plugins' (untrusted) config
schemas with a deadline (:mod:`wasmhub.config_schema`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wasmhub.catalog.fetch import Resolver, system_resolver
from wasmhub.db.engine import Database
from wasmhub.events import EventBus
from wasmhub.settings import Settings
from wasmhub.storage import BlobStore
from wasmhub.storage.factory import open_store

if TYPE_CHECKING:
    from wasmhub.authz.identity import Identity
    from wasmhub.catalog.adding import PluginImporter
    from wasmhub.catalog.downloads import DownloadBuffer
    from wasmhub.config_schema import SchemaEvaluator
    from wasmhub.fleet.service import FleetService
    from wasmhub.playground import PlaygroundService
    from wasmhub.registry.service import RegistryService
    from wasmhub.wasm.registry_hook import PluginAnalyser


@dataclass
class Hub:
    settings: Settings
    database: Database
    events: EventBus = field(default_factory=EventBus)
    # Name lookups of add-by-URL; tests inject one so made-up names never reach the DNS.
    resolver: Resolver = system_resolver
    # Built from settings (not a constructor argument, so existing callers keep working).
    storage: BlobStore = field(init=False)
    _analyser: PluginAnalyser | None = field(init=False, default=None, repr=False)
    _importer: PluginImporter | None = field(init=False, default=None, repr=False)
    _playground: PlaygroundService | None = field(init=False, default=None, repr=False)
    _registry: RegistryService | None = field(init=False, default=None, repr=False)
    _schema_evaluator: SchemaEvaluator | None = field(init=False, default=None, repr=False)
    _identity: Identity | None = field(init=False, default=None, repr=False)
    _fleet: FleetService | None = field(init=False, default=None, repr=False)
    _build_lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)
    # Run by close(), last added first (e.g. the download buffer's final flush).
    _closers: list[Callable[[], None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.storage = open_store(self.settings)

    @property
    def identity(self) -> Identity:
        """Accounts, permissions, tokens, audit and limits (built on first use: importing
        them costs CLI commands and worker start-up time they may not need)."""
        with self._build_lock:
            if self._identity is None:
                from wasmhub.authz.identity import Identity

                self._identity = Identity.build(self.settings, self.database)
            return self._identity

    @property
    def fleet(self) -> FleetService:
        """Envoy fleet deployments, rollouts and node status (``wasmhub.fleet``)."""
        with self._build_lock:
            if self._fleet is None:
                from wasmhub.fleet.service import FleetService

                self._fleet = FleetService(self)
            return self._fleet

    @classmethod
    def open(cls, settings: Settings, *, resolver: Resolver | None = None) -> Hub:
        """A hub with its standing event subscribers, as servers and commands use it."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.effective_database_url, settings.database_pool_size)
        hub = cls(settings=settings, database=database, resolver=resolver or system_resolver)
        hub._subscribe_standing_handlers()
        return hub

    @property
    def analyser(self) -> PluginAnalyser:
        """The process's plugin analyser (module size limit, bounded unpacking)."""
        with self._build_lock:
            if self._analyser is None:
                from wasmhub.wasm.registry_hook import PluginAnalyser

                self._analyser = PluginAnalyser(
                    max_module_bytes=self.settings.max_module_bytes,
                    max_concurrent=self.settings.max_concurrent_unpacks,
                )
            return self._analyser

    @property
    def importer(self) -> PluginImporter:
        """The process's add-by-URL importer (caps concurrent imports)."""
        with self._build_lock:
            if self._importer is None:
                from wasmhub.catalog.adding import PluginImporter

                self._importer = PluginImporter(self)
            return self._importer

    @property
    def schema_evaluator(self) -> SchemaEvaluator:
        """The process's config schema evaluator; its worker processes start on first use
        and stop with :meth:`close`."""
        with self._build_lock:
            if self._schema_evaluator is None:
                from wasmhub.config_schema import SchemaEvaluator

                self._schema_evaluator = SchemaEvaluator(
                    self.settings.config_schema_timeout_seconds,
                    self.settings.config_schema_workers,
                )
            return self._schema_evaluator

    @property
    def playground(self) -> PlaygroundService:
        """The process's playground runner (its worker threads and concurrency cap)."""
        with self._build_lock:
            if self._playground is None:
                from wasmhub.playground import PlaygroundService

                self._playground = PlaygroundService(self)
            return self._playground

    def _registry_service(self) -> RegistryService:
        from wasmhub.registry.service import RegistryService

        with self._build_lock:
            if self._registry is None:
                self._registry = RegistryService(self)
            return self._registry

    def read_plugin_blob(self, repository: str, digest: str) -> bytes:
        """A blob of ``repository`` for plugin analysis, read no further than any plugin
        image's blob may be (``LayoutError`` past that; memory stays bounded)."""
        from wasmhub.wasm.errors import LayoutError

        limit = self.analyser.max_blob_bytes
        registry = self._registry_service()
        too_large = LayoutError(f"blob {digest} is larger than a plugin layer may be ({limit})")
        if registry.stat_blob(repository, digest).size > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        with self.storage.open(digest) as stream:
            # In chunks: read(limit) would allocate the whole limit up front.
            while chunk := stream.read(min(1024 * 1024, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise too_large
        return b"".join(chunks)

    def read_plugin_module(self, repository: str, digest: str) -> bytes:
        """The Wasm module of the stored plugin image ``repository@digest``, unpacked by
        the analyser (its size limit and slots); NotFoundError when it is not stored,
        LayoutError when it is not a plugin image. Not counted as a download."""
        record = self._registry_service().lookup_manifest(repository, digest, with_payload=True)
        unpacked = self.analyser.unpack(
            record.payload, lambda d: self.read_plugin_blob(repository, d))
        return unpacked.module

    def _subscribe_standing_handlers(self) -> None:
        """Wire the parts that follow the registry, in one place for every entry point.

        Whatever pushes (the /v2/ API, ``seed``, add-by-URL imports) goes through the
        same bus, so a broken plugin image is refused (veto, before commit) and the
        catalog follows every push, delete and pull.
        """
        # Imported here: those packages import Hub for their own type hints.
        from wasmhub.catalog.indexer import CatalogIndexer
        from wasmhub.signing.index import SignatureIndex
        from wasmhub.wasm.registry_hook import make_plugin_validator

        self.events.subscribe(make_plugin_validator(self.read_plugin_blob, self.analyser),
                              veto=True)
        self.events.subscribe(CatalogIndexer(self, downloads=self._download_buffer()))
        self.events.subscribe(SignatureIndex(self))
        _ = self.importer  # built now, before requests race to build it

    def _download_buffer(self) -> DownloadBuffer | None:
        """Redis-buffered download counts when ``redis_url`` is set (catalog/downloads.py)."""
        if not self.settings.redis_url:
            return None
        from wasmhub.catalog.downloads import DownloadBuffer
        from wasmhub.ops.shared import redis_client

        buffer = DownloadBuffer(self, redis_client(self.settings.redis_url),
                                prefix=self.settings.redis_key_prefix,
                                interval=self.settings.download_flush_seconds)
        self._closers.append(buffer.close)
        return buffer

    def close(self) -> None:
        with self._build_lock:
            evaluator, self._schema_evaluator = self._schema_evaluator, None
        if evaluator is not None:
            evaluator.close()
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()
        if self._playground is not None:
            self._playground.close()
        self.database.dispose()
