"""Shared fixtures: ``app``, ``client``, ``db``, ``runner`` and database factories.

The suite runs on SQLite by default. With ``TEST_DATABASE_URL`` set (CI sets it), it runs on
PostgreSQL instead: every test session creates its own database there, migrates it, and drops
it at the end, so runs never see each other's rows. Every test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import create_app
from app.config import normalise_database_url
from app.extensions import db as _db
from app.extensions import limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")


def _admin_connect(url):
    import psycopg

    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


class DatabaseFactory:
    """Creates throw-away databases: SQLite files, or PostgreSQL databases it later drops."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._created: list[str] = []
        self.base = make_url(normalise_database_url(TEST_DATABASE_URL)) if TEST_DATABASE_URL else None

    @property
    def backend(self) -> str:
        return "postgresql" if self.base else "sqlite"

    def new(self) -> str:
        if self.base is None:
            path = self._tmp.mktemp("db") / "test.sqlite"
            return f"sqlite:///{path}"
        name = f"twtapi_test_{uuid.uuid4().hex[:12]}"
        with _admin_connect(self.base) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.base is None:
            return
        with _admin_connect(self.base) as conn:
            for name in self._created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(database_factory) -> str:
    """One migrated database for the whole session."""
    url = database_factory.new()
    app = create_app("testing", _overrides(url))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return url


def _overrides(url: str) -> dict:
    overrides = {"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": None}
    if REDIS_URL:
        overrides.update(
            REDIS_URL=REDIS_URL,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=f"twtapi-test-{uuid.uuid4().hex[:8]}",
        )
    return overrides


@pytest.fixture(scope="session")
def _session_engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_app(database_url, _session_engine) -> Iterator[Callable[..., object]]:
    """Build an application on the session database, with settings overridden per test.

    After the test, every table is emptied and the rate-limit counters are reset, so the
    next test starts clean.
    """
    apps = []

    def factory(**overrides):
        app = create_app("testing", {**_overrides(database_url), **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    if apps:
        limiter.reset()
    with _session_engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app) -> Iterator[object]:
    """The SQLAlchemy handle, inside an application context."""
    with app.app_context():
        yield _db
        _db.session.remove()


def pytest_report_header(config):
    database = "PostgreSQL (TEST_DATABASE_URL, a fresh database per run)" if TEST_DATABASE_URL else "SQLite"
    limits = "Redis (REDIS_URL)" if REDIS_URL else "memory"
    return [f"database: {database}; rate-limit storage: {limits}"]
