"""The Hub: the process-wide services one wasmhub server or command works with.

Built once from Settings and passed explicitly (no globals): handlers reach it through
``request.app.state.hub``; CLI commands and tests construct their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmhub.db.engine import Database
from wasmhub.events import EventBus
from wasmhub.settings import Settings
from wasmhub.storage import BlobStore, FilesystemBlobStore


@dataclass
class Hub:
    settings: Settings
    database: Database
    events: EventBus = field(default_factory=EventBus)
    # Built from settings (not a constructor argument, so existing callers keep working).
    storage: BlobStore = field(init=False)

    def __post_init__(self) -> None:
        self.storage = FilesystemBlobStore(self.settings.data_dir)

    @classmethod
    def open(cls, settings: Settings) -> Hub:
        """A hub with its standing event subscribers, as servers and commands use it."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        hub = cls(settings=settings, database=Database(settings.effective_database_url))
        hub._subscribe_standing_handlers()
        return hub

    def _subscribe_standing_handlers(self) -> None:
        """Wire the parts that follow the registry, in one place for every entry point.

        Whatever pushes (the /v2/ API, ``seed``, add-by-URL imports) goes through the
        same bus, so a broken plugin image is refused (veto, before commit) and the
        catalog follows every push, delete and pull.
        """
        # Imported here: those packages import Hub for their own type hints.
        from wasmhub.catalog.indexer import CatalogIndexer
        from wasmhub.registry.service import RegistryService
        from wasmhub.wasm.registry_hook import make_plugin_validator

        registry = RegistryService(self)

        def fetch_blob(repository: str, digest: str) -> bytes:
            with registry.open_blob(repository, digest) as stream:
                return stream.read()

        self.events.subscribe(make_plugin_validator(fetch_blob), veto=True)
        self.events.subscribe(CatalogIndexer(self))

    def close(self) -> None:
        self.database.dispose()
