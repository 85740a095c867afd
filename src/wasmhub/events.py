"""In-process events the registry emits and later parts (catalog, audit log) consume.

The blob store is the source of truth; subscribers derive their state from these
events and can always be rebuilt by replaying stored manifests. A subscriber that fails
is logged and does not undo the push (the catalog's ``reindex`` repairs it), except a
subscriber registered with ``veto=True``: its ``InputError`` rejects the push before
the manifest is committed (used to refuse a corrupt Wasm module in a plugin layout).
A veto subscriber may also return a refined event, which later subscribers receive:
the plugin validator attaches its ``PluginAnalysis`` to ``ManifestPushed.analysis`` so
the catalog indexes the push from that analysis instead of unpacking it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wasmhub.wasm.registry_hook import PluginAnalysis

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ManifestPushed:
    repository: str
    digest: str
    media_type: str
    payload: bytes
    tag: str | None
    subject: str | None = None
    artifact_type: str | None = None
    # What the push validator found (None: not a Wasm plugin image, or not analysed).
    analysis: PluginAnalysis | None = None


@dataclass(frozen=True, slots=True)
class ManifestDeleted:
    repository: str
    digest: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ManifestFetched:
    """A registry client pulled a manifest (counts downloads)."""

    repository: str
    digest: str
    reference: str


Event = ManifestPushed | ManifestDeleted | ManifestFetched
Handler = Callable[[Event], None]
# A veto subscriber: raise to refuse, or return a refined event (None: unchanged).
VetoHandler = Callable[[Event], "Event | None"]


@dataclass
class EventBus:
    """Synchronous fan-out, in subscription order."""

    _handlers: list[tuple[VetoHandler, bool]] = field(default_factory=list)
    # Called after each ordinary subscriber with (event name, seconds, failed): metrics.
    observer: Callable[[str, float, bool], None] | None = None

    def subscribe(self, handler: VetoHandler | Handler, *, veto: bool = False) -> None:
        self._handlers.append((handler, veto))

    def check(self, event: Event) -> Event:
        """Run veto subscribers only; their errors propagate to reject the change.

        Returns the event to publish: the last refinement a veto subscriber returned.
        """
        for handler, veto in self._handlers:
            if veto:
                refined = handler(event)
                if refined is not None:
                    event = refined
        return event

    def publish(self, event: Event) -> None:
        """Run the ordinary subscribers; their failures are logged, never raised."""
        for handler, veto in self._handlers:
            if veto:
                continue
            started = time.perf_counter()
            failed = False
            try:
                handler(event)
            except Exception:
                failed = True
                log.exception("event subscriber %r failed on %r", handler, type(event).__name__)
            if self.observer is not None:
                self.observer(type(event).__name__, time.perf_counter() - started, failed)
