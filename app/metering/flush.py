"""Moving metered call records from Redis to the database, in batches (``API_METERING=redis``).

One transaction per batch writes the call log, the usage ledger rows, the balances and the daily
roll-ups; the records are acknowledged in Redis only after it commits. A record written twice (a
crash between the commit and the acknowledgement) is found already logged and skipped (and the
unique request id refuses it should two flushers race), so nothing is lost or counted twice.

``METERING_FLUSH`` says who flushes: a thread in each application process (``background``, started
by its first metered call), the ``flask usage flush --follow`` service (``external``) or the request
itself (``inline``, tests). ``flask usage flush`` drains what is left, including records a process
that died was holding (run it from cron).
"""

from __future__ import annotations

import atexit
import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.billing.models import CreditEntry
from app.extensions import db
from app.keys.models import ApiKey
from app.metering.meter import unpack
from app.usage.models import ApiCall, UsageDaily
from app.usage.services import add_usage, dialect_insert

log = logging.getLogger(__name__)
CLAIM_IDLE_MS = 30_000  # records a flusher has held this long without acknowledging are taken over


def flush_once(meter, consumer: str, block_ms: int | None = None, claim_idle_ms: int | None = None) -> int:
    """Write one batch of records to the database and acknowledge it; the number of records."""
    entries = meter.read_records(consumer, meter.batch, block_ms=block_ms, claim_idle_ms=claim_idle_ms)
    if not entries:
        return 0
    records = [unpack(fields) for _, fields in entries]
    for attempt in range(3):
        try:
            with db.engine.begin() as conn:
                write_records(conn, records)
            break
        except IntegrityError:  # another flusher wrote some of these records meanwhile: skip them now
            if attempt == 2:
                raise
    meter.acknowledge([(entry_id, r["user_id"], r["credits"])
                       for (entry_id, _), r in zip(entries, records, strict=True)])
    return len(entries)


def flush_all(meter, consumer: str, claim_idle_ms: int | None = None) -> int:
    """Flush until nothing is left for ``consumer``; the number of records written."""
    total = 0
    while count := flush_once(meter, consumer, claim_idle_ms=claim_idle_ms):
        total += count
    return total


def flush_metered_calls(claim_idle_ms: int = 0) -> int:
    """Write every call record waiting in Redis, also those held by other processes for
    ``claim_idle_ms`` or longer (``flask usage flush``). Nothing to do with the database meter."""
    from app.metering.meter import get_meter
    from app.metering.redis_meter import consumer_name

    meter = get_meter()
    if meter.name != "redis":
        return 0
    return flush_all(meter, consumer_name(), claim_idle_ms=claim_idle_ms)


def run_flusher(app, meter, consumer: str | None = None) -> None:
    """Write records as they arrive, for ever: a thread of an application process
    (``METERING_FLUSH=background``) or the ``flask usage flush --follow`` service (``external``)."""
    from app.metering.redis_meter import consumer_name

    consumer = consumer or consumer_name()

    def last_flush():
        if meter.stopped.is_set():  # closed on purpose (tests); its records stay for `flask usage flush`
            return
        with app.app_context():
            try:
                flush_all(meter, consumer)
            except Exception:  # noqa: BLE001 - at exit: the records stay in Redis for `flask usage flush`
                log.exception("final flush of API call records failed; `flask usage flush` will write them")

    atexit.register(last_flush)
    with app.app_context():
        while not meter.stopped.is_set():
            try:
                written = flush_once(meter, consumer, block_ms=1000, claim_idle_ms=CLAIM_IDLE_MS)
                if written < meter.batch:
                    meter.stopped.wait(meter.flush_interval)  # let a batch gather
            except Exception:  # noqa: BLE001 - keep flushing; the records wait in Redis meanwhile
                if meter.stopped.is_set():
                    break
                log.exception("flushing API call records failed; retrying")
                db.session.remove()
                meter.stopped.wait(1)


def write_records(conn, rows: list[dict]) -> None:
    """Insert the calls not yet logged, with their charges and roll-ups (inside ``conn``'s transaction).

    ``rows``: unpacked records (``app.metering.meter.unpack``)."""
    # An erased account's calls are not logged (its keys stopped when it was closed, long before).
    users = set(conn.scalars(select(User.id).where(User.id.in_({r["user_id"] for r in rows}),
                                                   User.erased_at.is_(None))))
    keys = set(conn.scalars(select(ApiKey.id).where(ApiKey.id.in_({r["key_id"] for r in rows if r["key_id"]}))))
    rows = [{**r, "key_id": r["key_id"] if r["key_id"] in keys else None} for r in rows if r["user_id"] in users]
    calls = ApiCall.__table__
    if rows:  # a record delivered again (after a crash before its acknowledgement) is already logged
        logged = set(conn.scalars(select(calls.c.request_id)
                                  .where(calls.c.request_id.in_([r["request_id"] for r in rows]))))
        rows = [r for r in rows if r["request_id"] not in logged]
    if not rows:
        return
    # Plain executemany: one compiled statement for the batch. Two flushers writing the same record
    # at once (one took over the other's) collide on the unique request id: that batch rolls back
    # and is written again without the duplicate.
    conn.execute(calls.insert(), rows)
    insert = dialect_insert(conn.dialect.name)
    _charge(conn, [r for r in rows if r["credits"] > 0])
    _roll_up(conn, insert, rows)
    _mark_keys_used(conn, rows)


def _charge(conn, rows: list[dict]) -> None:
    """The usage ledger rows and the balances, in one order (user id) so concurrent flushers never deadlock."""
    if not rows:
        return
    entries = [{"user_id": r["user_id"], "created_at": r["created_at"], "kind": "usage", "amount": -r["credits"],
                "call_id": r["request_id"]} for r in rows]
    conn.execute(CreditEntry.__table__.insert(), entries)
    spent: dict[int, int] = defaultdict(int)
    for r in rows:
        spent[r["user_id"]] += r["credits"]
    users = User.__table__
    if spent:
        conn.execute(update(users).where(users.c.id == bindparam("b_user"))
                     .values(credit_balance=users.c.credit_balance - bindparam("b_spent")),
                     [{"b_user": user, "b_spent": spent[user]} for user in sorted(spent)])


def _roll_up(conn, insert, rows: list[dict]) -> None:
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        total = totals[(r["created_at"].date(), r["user_id"], r["key_id"], r["endpoint"])]
        total[0] += 1
        total[1] += r["credits"]
        total[2] += 1 if r["status"] >= 400 else 0
    keyed = [{"day": day, "user_id": user, "key_id": key, "endpoint": endpoint, "calls": c, "credits": cr,
              "errors": e} for (day, user, key, endpoint), (c, cr, e) in sorted(totals.items(), key=_order)
             if key is not None]
    daily = UsageDaily.__table__
    if keyed:
        statement = insert(daily)
        statement = statement.on_conflict_do_update(
            index_elements=["day", "user_id", "key_id", "endpoint"],
            set_={"calls": daily.c.calls + statement.excluded.calls,
                  "credits": daily.c.credits + statement.excluded.credits,
                  "errors": daily.c.errors + statement.excluded.errors})
        conn.execute(statement, keyed)
    for (day, user, key, endpoint), (calls, credits, errors) in totals.items():
        if key is None:  # the key was deleted meanwhile
            add_usage(conn, conn.dialect.name, day=day, user_id=user, key_id=None, endpoint=endpoint, calls=calls,
                      credits=credits, errors=errors)


def _order(item) -> tuple:
    (day, user, key, endpoint), _ = item
    return day, user, key or 0, endpoint


def _mark_keys_used(conn, rows: list[dict]) -> None:
    last: dict[int, datetime] = {}
    for r in rows:
        if r["key_id"] is not None and (r["key_id"] not in last or r["created_at"] > last[r["key_id"]]):
            last[r["key_id"]] = r["created_at"]
    if last:
        keys = ApiKey.__table__
        conn.execute(update(keys).where(keys.c.id == bindparam("b_key"),
                                        or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < bindparam("b_at")))
                     .values(last_used_at=bindparam("b_at")),
                     [{"b_key": key, "b_at": at} for key, at in sorted(last.items())])
