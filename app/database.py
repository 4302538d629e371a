"""Database engine settings that SQLAlchemy cannot express as URL options."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.routing import IntegerConverter

from app.extensions import db


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    """Enforce foreign keys and use WAL, so readers do not block the writer."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL never corrupts the database and skips an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def configure_engine(app: Flask) -> None:
    """Attach the connection hooks to this application's engine."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
            if engine.url.database and engine.url.database != ":memory:":
                Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)


def insert_once(table, **values) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's transaction; True when the row was
    inserted, False when a row with the same unique value exists (or is being inserted by a
    concurrent transaction, which PostgreSQL waits for).

    One plain statement, not a SAVEPOINT: on SQLite a savepoint opened outside a transaction ends
    with RELEASE, which commits at once and lets the rest of the work run outside the write lock.
    As the first write of a transaction it takes SQLite's write lock until the commit.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = list(table.primary_key.columns)
    # RETURNING rather than rowcount: PostgreSQL's driver reports no count for an insert whose
    # key SQLAlchemy returns; a conflict returns no row on both databases.
    result = db.session.execute(insert(table).values(**values).on_conflict_do_nothing().returning(*key))
    return result.first() is not None


def lock_row(table, row_id: int) -> None:
    """Serialise the transactions that change what hangs off one row, until this one commits.

    PostgreSQL: the row's lock (``SELECT ... FOR UPDATE``), so a count read after it sees every
    committed row. SQLite ignores ``FOR UPDATE``; a write there takes the database's write lock,
    so the lock is a write of the row to itself. Call it before reading what it guards.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
    else:
        db.session.execute(update(table).where(table.c.id == row_id).values(id=table.c.id))


MAX_ID = 2**31 - 1  # PostgreSQL's integer; SQLite's is wider, but ids never pass this


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs: a number past any id is simply not found (404), never sent to the
    database, where it would overflow."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def form_id(value: str | None) -> int | None:
    """A form's id field as a number in the range of ids, or None."""
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if 0 < number <= MAX_ID else None
