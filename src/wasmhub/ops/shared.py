"""State every replica shares: one Redis client per URL and process.

Redis (``redis_url``) is optional; parts that need cross-replica state without it use
the database (download counts are SQL increments, locks are database row locks).
"""

from __future__ import annotations

import threading

import redis

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(url: str) -> redis.Redis:
    """A pooled client for ``url`` with short timeouts (readiness must not hang)."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0,
                                          health_check_interval=30)
            _clients[url] = client
        return client
