"""The Hub: the process-wide services one wasmhub server or command works with.

Built once from Settings and passed explicitly (no globals): handlers reach it through
``request.app.state.hub``; CLI commands and tests construct their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wasmhub.db.engine import Database
from wasmhub.events import EventBus
from wasmhub.settings import Settings


@dataclass
class Hub:
    settings: Settings
    database: Database
    events: EventBus = field(default_factory=EventBus)

    @classmethod
    def open(cls, settings: Settings) -> Hub:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, database=Database(settings.effective_database_url))

    def close(self) -> None:
        self.database.dispose()
