"""Engine and session factory for one database URL, tuned per backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wasmhub.errors import ConfigError

SQLITE_POOL_SIZE = 48


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    # psycopg 3 is the installed driver; accept the bare postgresql:// spelling.
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


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

    def __init__(self, url: str) -> None:
        try:
            self.url = _normalise_url(url)
            parsed = make_url(self.url)
        except Exception as exc:
            raise ConfigError(f"database_url {url!r} is not a valid SQLAlchemy URL") from exc
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            # Request handlers run in anyio's thread pool (40 threads); a smaller pool
            # makes most requests open a fresh connection and re-run the pragmas
            # (about 30% of a manifest GET, measured with bench/registry.py --profile).
            kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
