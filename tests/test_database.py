"""Database: engine settings, and migrations that build exactly the models' schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db as _db
from app.usage.partitions import include_name, is_partition


def test_sqlite_enforces_foreign_keys_and_uses_wal(db, database_factory):
    if database_factory.backend != "sqlite":
        pytest.skip("SQLite pragmas: this run uses PostgreSQL")
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_postgresql_runs_use_psycopg3(db, database_factory):
    if database_factory.backend != "postgresql":
        pytest.skip("psycopg driver check: this run uses SQLite")
    assert db.engine.dialect.driver == "psycopg"


def test_upgrade_on_an_empty_database_yields_exactly_the_models_schema(database_factory):
    """`flask db upgrade` from nothing, then compare with the models: no difference allowed."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        with _db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
            diff = compare_metadata(context, _db.metadata)
            tables = set(inspect(conn).get_table_names())
        _db.engine.dispose()
    assert diff == []
    partitions = {name for name in tables if is_partition(name)}
    assert tables - partitions == {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"}
    if database_factory.backend == "postgresql":  # this month and the next three, and the default
        assert "api_calls_default" in partitions and len(partitions) >= 5
    else:
        assert not partitions


def test_flask_db_upgrade_command_runs_on_an_empty_database(database_factory):
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        _db.engine.dispose()
