"""Shared fixtures: settings and a migrated Hub on SQLite *and* PostgreSQL.

Every test that takes ``hub`` (or ``settings``/``database_url``) runs twice, once per
backend. PostgreSQL gets one fresh database per test session (unique name, dropped at
the end) migrated once; tables are emptied after each test. Set
``WASMHUB_TEST_POSTGRES_URL`` to point elsewhere, or ``WASMHUB_TEST_BACKENDS=sqlite`` to
skip PostgreSQL while iterating locally (CI always runs both).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.s3 import S3Endpoint, running_moto
from wasmhub.db.base import Base
from wasmhub.db.engine import Database
from wasmhub.db.migrate import upgrade
from wasmhub.db.models import import_all_models
from wasmhub.hub import Hub
from wasmhub.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "WASMHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _backends() -> list[str]:
    chosen = os.environ.get("WASMHUB_TEST_BACKENDS", "sqlite,postgresql")
    if os.environ.get("CI"):
        chosen = "sqlite,postgresql"
    return [b.strip() for b in chosen.split(",") if b.strip()]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test session."""
    admin_url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg")
    name = f"wasmhub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - environment problem, say it plainly
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _empty_tables(url: str) -> None:
    import_all_models()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if not tables:
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL; the test runs once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'wasmhub.db'}"
        database = Database(url)
        upgrade(database)
        database.dispose()
        yield url
    else:
        url = request.getfixturevalue("postgres_database")
        yield url
        _empty_tables(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        fetch_allow_private=["127.0.0.0/8", "::1/128"],
        # Tests written before accounts push to unowned namespaces anonymously: a
        # development hub (docs/operations.md). Identity tests use their own settings.
        open_namespaces=True,
    )


@pytest.fixture
def hub(settings: Settings) -> Iterator[Hub]:
    hub = Hub.open(settings)
    yield hub
    hub.close()


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """Where tests leave artifacts worth looking at (screenshots, reports)."""
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """One moto S3 server (an emulator) for the test session; tests take own buckets."""
    with running_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint
