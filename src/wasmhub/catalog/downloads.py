"""Download counts through Redis: one HINCRBY per pull, moved to the database in batches.

Without Redis every pull is two SQL increments on the version and plugin rows, which
is exact across replicas but makes a rollout burst (hundreds of pulls of one version
within seconds) queue on those two rows' locks. With ``redis_url`` set, each replica
adds to one Redis hash and, every ``download_flush_seconds``, one replica at a time
(a Redis lock) renames the hash to a batch key, applies the batch in one transaction
and deletes it. A batch left by a replica that died mid-flush is applied by the next
flusher; if it died after committing but before deleting, that batch counts twice (at
least once, never lost). Counts shown lag by up to the flush interval.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from typing import TYPE_CHECKING

import redis

from wasmhub.catalog import store

if TYPE_CHECKING:
    from wasmhub.hub import Hub

log = logging.getLogger(__name__)

LOCK_MILLISECONDS = 60_000


class DownloadBuffer:
    def __init__(self, hub: Hub, client: redis.Redis, *, prefix: str,
                 interval: float) -> None:
        self.hub = hub
        self.client = client
        self.pending_key = f"{prefix}downloads:pending"
        self.batch_prefix = f"{prefix}downloads:batch:"
        self.lock_key = f"{prefix}downloads:flush-lock"
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def count(self, repository: str, digest: str, reference: str) -> None:
        """One pull of ``repository`` ``reference`` (resolving to ``digest``)."""
        self.client.hincrby(self.pending_key, json.dumps([repository, digest, reference]), 1)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="wasmhub-downloads")
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # Redis or the database away: retried next interval
                log.exception("flushing download counts failed; will retry")

    def flush(self) -> int:
        """Apply every buffered count to the database; the number of pulls applied (0 when
        another replica is flushing right now)."""
        token = uuid.uuid4().hex
        if not self.client.set(self.lock_key, token, nx=True, px=LOCK_MILLISECONDS):
            return 0
        try:
            batch = f"{self.batch_prefix}{token}"
            # No pending hash is an error here; left-over batches may still be there.
            with contextlib.suppress(redis.ResponseError):
                self.client.rename(self.pending_key, batch)
            applied = 0
            for key in list(self.client.scan_iter(match=f"{self.batch_prefix}*", count=100)):
                applied += self._apply(key)
            return applied
        finally:
            # Release only our own lock (it may have expired and been taken since).
            if self.client.get(self.lock_key) == token.encode():
                self.client.delete(self.lock_key)

    def _apply(self, key: bytes | str) -> int:
        counts = self.client.hgetall(key)
        applied = 0
        with self.hub.database.session() as session:
            for field, value in counts.items():
                repository, digest, reference = json.loads(field)
                amount = int(value)
                if store.count_download(session, repository, digest, reference, amount):
                    applied += amount
        self.client.delete(key)
        return applied

    def close(self) -> None:
        """Stop the flusher and flush what this process counted."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            try:
                self.flush()
            except Exception:
                log.exception("final flush of download counts failed; another replica "
                              "will apply them")
