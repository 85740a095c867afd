"""Engine and session factory for one database URL, tuned per backend."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from sqlalchemy import Engine, Row, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.base import Executable

from wasmhub.errors import ConfigError

SQLITE_POOL_SIZE = 48
# Connections per process to a database server unless told (settings.database_pool_size).
SERVER_POOL_SIZE = 20
# Idle connections :meth:`Database.read_nowait` keeps (each event loop uses one at a time).
SQLITE_FAST_READERS = 4
# A pooled server connection idle for longer than this is pinged before use (a database
# restart or an idle timeout may have closed it); one in use moments ago is not.
PING_AFTER_IDLE_SECONDS = 5.0
_CHECKED_IN = "wasmhub.checked_in"


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    # psycopg 3 is the installed driver; accept the bare postgresql:// spelling.
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _ping_when_stale(engine: Engine) -> None:
    """``pool_pre_ping`` for connections idle over PING_AFTER_IDLE_SECONDS only: under
    load every checkout pinged, one extra round trip per query. A failed ping makes the
    pool replace the connection (DisconnectionError), as pre-ping does."""

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or in use moments ago
        try:
            alive = engine.dialect.do_ping(dbapi)
        except Exception as error:
            raise exc.DisconnectionError("stale pooled connection") from error
        if not alive:
            raise exc.DisconnectionError("stale pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; NORMAL sync is durable under WAL
    # for everything but power loss, and blobs (the source of truth) are fsynced anyway.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str, pool_size: int = SERVER_POOL_SIZE) -> None:
        try:
            self.url = _normalise_url(url)
            parsed = make_url(self.url)
        except Exception as exc:
            raise ConfigError(f"database_url {url!r} is not a valid SQLAlchemy URL") from exc
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # A file database opened without URI options can be read without SQLAlchemy.
        self._fast_path: str | None = None
        if (self.is_sqlite and parsed.database and parsed.database != ":memory:"
                and not parsed.query):
            self._fast_path = parsed.database
        self._fast_idle: list[sqlite3.Connection] = []
        self._fast_lock = threading.Lock()
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # Request handlers run in anyio's thread pool (40 threads); a smaller
                # pool makes most requests open a fresh connection and re-run the
                # pragmas (about 30% of a manifest GET, bench/registry.py --profile).
                # (An in-memory database keeps SQLAlchemy's one-per-thread pool.)
                kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        else:
            # Up to pool_size, opened as needed and then kept, no overflow: with 10 kept
            # plus 20 overflow a burst closed and reopened connections all the time (each
            # a new PostgreSQL backend; 1.8 ms of a pull's 5.4 ms in bench/rollout.py).
            # Past pool_size a request waits for a connection (pool_timeout, 30 s).
            kwargs.update(pool_size=pool_size, max_overflow=0)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self._reader: Engine = self.engine
        else:
            _ping_when_stale(self.engine)
            # Single reads need no transaction: BEGIN and ROLLBACK would be two more
            # round trips each (same pool; autocommit is set per checkout, no query).
            self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def read(self, statement: Executable, params: Mapping[str, Any] | None = None
             ) -> Sequence[Row[Any]]:
        """Rows of one read statement, outside any transaction: on a database server one
        round trip (no BEGIN/ROLLBACK), for the hot read paths (a pull's permission
        facts, manifest and blob lookups). Sees every commit made before it."""
        with self._reader.connect() as conn:
            return conn.execute(statement, params or {}).all()

    def read_nowait(self, sql: str, params: Sequence[Any]) -> list[Any] | None:
        """Rows of one short read that never waits for a lock, or None: not a file SQLite
        database, or the database is busy or failed; then use :meth:`session` in a worker
        thread, which waits and raises as usual.

        For lookups done on the event loop (an indexed read costs microseconds; a thread
        hop and an ORM session cost hundreds). Under WAL a reader does not wait for
        writers, and each call is its own read transaction, so it sees every commit made
        before it, by any thread or worker process.
        """
        if self._fast_path is None:
            return None
        with self._fast_lock:
            conn = self._fast_idle.pop() if self._fast_idle else None
        try:
            if conn is None:
                conn = self._fast_connect(self._fast_path)
            rows = conn.execute(sql, params).fetchall()
        except sqlite3.Error:
            if conn is not None:
                conn.close()
            return None
        with self._fast_lock:
            if len(self._fast_idle) < SQLITE_FAST_READERS:
                self._fast_idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        return rows

    @staticmethod
    def _fast_connect(path: str) -> sqlite3.Connection:
        # mode=rw: never create the file; timeout=0: SQLITE_BUSY at once instead of
        # blocking the caller's event loop; no isolation level: each read is autocommit.
        uri = "file:" + pathname2url(str(Path(path).resolve())) + "?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def dispose(self) -> None:
        with self._fast_lock:
            idle, self._fast_idle = self._fast_idle, []
        for conn in idle:
            conn.close()
        self.engine.dispose()
