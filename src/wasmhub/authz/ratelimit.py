"""Abuse limits for sign-in and the token endpoints: fixed windows per key.

Keys name an account (``account:<username>``) or a client address (``addr:<ip>``).
With ``WASMHUB_REDIS_URL`` the counters live in Redis (shared by every worker and
server); otherwise in this process. A Redis outage fails open for that request and is
logged: refusing every sign-in would be worse than a briefly unlimited one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one attempt; None if allowed, else seconds until the window resets."""

    def count(self, key: str) -> int:
        """Attempts counted for ``key`` in its current window (without counting one)."""


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 100_000:  # forget expired windows now and then
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, reset = self._counts.get(key, (0, now + window_seconds))
            if reset <= now:
                count, reset = 0, now + window_seconds
            count += 1
            self._counts[key] = (count, reset)
        return None if count <= limit else max(int(reset - now), 1)

    def count(self, key: str) -> int:
        now = time.monotonic()
        with self._lock:
            count, reset = self._counts.get(key, (0, now))
        return count if reset > now else 0


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        import redis

        name = f"wasmhub:rate:{key}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limiter: Redis unavailable (%s); allowing %s", exc, key)
            return None
        return None if int(count) <= limit else max(int(ttl), 1)

    def count(self, key: str) -> int:
        import redis

        try:
            value = self._redis.get(f"wasmhub:rate:{key}")
        except redis.RedisError as exc:
            log.warning("rate limiter: Redis unavailable (%s)", exc)
            return 0
        return int(str(value, 'ascii') if isinstance(value, bytes) else str(value)) if value else 0


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
