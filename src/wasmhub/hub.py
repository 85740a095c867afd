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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.effective_database_url))

    def close(self) -> None:
        self.database.dispose()
