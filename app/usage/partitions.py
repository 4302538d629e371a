"""The call log on PostgreSQL: ``api_calls`` partitioned by calendar month (UTC).

Migration ``c5d1a7e9f3b2`` made the table partitioned by range of ``created_at``, one partition a
month (``api_calls_y2026m12`` holds December 2026) and a DEFAULT partition (``api_calls_default``)
for a row of a month that has none yet, so no call is ever refused. Every run of ``flask privacy
purge`` first creates the partitions of this month and the next ``MONTHS_AHEAD`` ones, then drops
each partition whose whole month is past ``CALL_LOG_DAYS``: an expiry of millions of rows is a
catalogue change of milliseconds instead of a delete of minutes, and what is left (the month the
period ends in, and any rows in the default partition) goes through the batched delete like on
SQLite. A partition is detached (a brief exclusive lock on the parent: it waits at most
``LOCK_TIMEOUT`` for running statements, and tries again a few times) before its rows are counted
and it is dropped, so no call waits behind the count. (``DETACH … CONCURRENTLY`` would take no such
lock, but PostgreSQL refuses it while a DEFAULT partition exists, and the default is what makes
sure no call is ever refused.)

SQLite keeps one plain table; every function here does nothing there.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

PARENT = "api_calls"
DEFAULT = "api_calls_default"
MONTHS_AHEAD = 3
LOCK_TIMEOUT = "500ms"  # how long a detach may hold up the calls queued behind its lock
DETACH_ATTEMPTS = 5
_MONTHLY = re.compile(r"^api_calls_y(\d{4})m(\d{2})$")

log = logging.getLogger(__name__)


def is_partition(name: str) -> bool:
    """A partition of the call log (Alembic compares the parent table only)."""
    return name == DEFAULT or bool(_MONTHLY.match(name))


def include_name(name: str, type_: str, _parents) -> bool:
    """Alembic's filter: compare the call log's parent table, not its partitions (migrations/env.py)."""
    return not (type_ == "table" and is_partition(name))


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_y{start.year:04d}m{start.month:02d}"


def is_partitioned(engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return conn.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": PARENT}) == "p"


def monthly_partitions(conn) -> dict[str, datetime]:
    """The monthly partitions attached to the call log, by name, with the month each starts."""
    names = conn.scalars(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "WHERE i.inhparent = to_regclass(:t)"), {"t": PARENT})
    found = {}
    for name in names:
        match = _MONTHLY.match(name)
        if match:
            found[name] = datetime(int(match[1]), int(match[2]), 1)
    return found


def create_sql(start: datetime) -> str:
    """The statement creating the partition of the month starting at ``start`` (values made here,
    not from input: DDL takes no bound parameters)."""
    return (f"CREATE TABLE IF NOT EXISTS {partition_name(start)} PARTITION OF {PARENT} "
            f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{next_month(start):%Y-%m-%d}')")


def ensure(engine, now: datetime, months_ahead: int = MONTHS_AHEAD, since: datetime | None = None) -> list[str]:
    """Create the partitions of this month (or from the month of ``since``) to ``months_ahead``
    months ahead; the names created.

    A month whose rows already wait in the default partition (the job did not run for months) is
    left there, with a warning: those rows still expire through the batched delete.
    """
    if not is_partitioned(engine):
        return []
    with engine.connect() as conn:
        existing = monthly_partitions(conn)
    created = []
    start, last = month_start(since or now), month_start(now)
    for _ in range(months_ahead):
        last = next_month(last)
    while start <= last:
        if partition_name(start) not in existing:
            try:
                with engine.begin() as conn:
                    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                    conn.execute(text(create_sql(start)))
                created.append(partition_name(start))
            except DBAPIError as exc:
                log.warning("call log partition %s not created (%s); its rows stay in %s",
                            partition_name(start), exc.orig, DEFAULT)
        start = next_month(start)
    return created


def drop_expired(engine, cutoff: datetime) -> int:
    """Drop every monthly partition that ends on or before ``cutoff``; the rows they held."""
    if not is_partitioned(engine):
        return 0
    with engine.connect() as conn:
        expired = sorted(name for name, start in monthly_partitions(conn).items() if next_month(start) <= cutoff)
    dropped = 0
    for name in expired:
        with engine.connect() as conn:
            if not _detach(conn, name):
                continue  # busy: its rows go through the batched delete instead
            with conn.begin():  # detached: nobody else reads or writes it any more
                dropped += conn.scalar(text(f"SELECT count(*) FROM {name}"))  # noqa: S608 - our own name
                conn.execute(text(f"DROP TABLE {name}"))
        log.info("dropped call log partition %s", name)
    return dropped


def _detach(conn, name: str) -> bool:
    for attempt in range(DETACH_ATTEMPTS):
        try:
            with conn.begin():
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name}"))
            return True
        except DBAPIError as exc:
            log.warning("call log partition %s not detached, attempt %d (%s)", name, attempt + 1, exc.orig)
            time.sleep(0.5)
    return False
