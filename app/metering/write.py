"""The one write path of metered calls: the call log, the usage ledger rows and balances, the
daily roll-ups and the keys' last use, for a batch of calls in one transaction.

Both meters use it: the database meter writes each call as a batch of one in the request's
transaction (``strict``: the charge is conditional and refused when the balance is short); the
Redis meter's flusher writes the records Redis charged, in batches (see ``flush.py``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.billing.models import CreditEntry, CreditKind
from app.keys.models import ApiKey
from app.metering.lookups import stored_balance
from app.metering.types import InsufficientCredits
from app.organisations.models import Organisation
from app.usage.models import ApiCall, UsageDaily


def write_records(conn, rows: list[dict], *, strict: bool = False, fresh: bool = False,
                  touch_keys: bool = True) -> dict[int, int]:
    """Write the calls in ``rows`` (``CallRecord.row`` / ``types.unpack``) inside ``conn``'s
    transaction; return the balance left of each account charged when ``strict``.

    ``fresh``: the rows were made now, by this process, for a key it just read (the database
    meter): the charge comes first (``strict``: a conditional update that raises
    InsufficientCredits before anything is written), then the calls. Otherwise (a batch from
    Redis, perhaps delivered again after a crash) calls of erased accounts are dropped, references
    to deleted keys cleared, and the calls inserted with ON CONFLICT DO NOTHING: only the calls
    the log did not hold yet are charged and rolled up, so a replay counts nothing twice, also
    when two flushers write one record at once. ``touch_keys``: also record the keys' last use
    (the database meter does it at most once a minute a key).
    """
    if fresh:
        balances = _charge(conn, [r for r in rows if r["credits"] > 0], strict)
        conn.execute(ApiCall.__table__.insert(), rows)  # one compiled statement for the batch
    else:
        rows = _insert_new_calls(conn, _of_live_accounts(conn, rows))
        balances = _charge(conn, [r for r in rows if r["credits"] > 0], strict)
    if not rows:
        return {}
    _roll_up(conn, rows)
    if touch_keys:
        _mark_keys_used(conn, rows)
    return balances


def _of_live_accounts(conn, rows: list[dict]) -> list[dict]:
    # A deleted organisation's calls are not logged (its keys stopped when it was closed, long before).
    if not rows:
        return rows
    live = set(conn.scalars(select(Organisation.id).where(Organisation.id.in_({r["organisation_id"] for r in rows}))))
    keys = set(conn.scalars(select(ApiKey.id).where(ApiKey.id.in_({r["key_id"] for r in rows if r["key_id"]}))))
    return [{**r, "key_id": r["key_id"] if r["key_id"] in keys else None} for r in rows if r["organisation_id"] in live]


def _insert_new_calls(conn, rows: list[dict]) -> list[dict]:
    """Insert the calls the log does not hold yet (by request id and time); those rows."""
    if not rows:
        return rows
    calls = ApiCall.__table__
    statement = (dialect_insert(conn.dialect.name)(calls)
                 .on_conflict_do_nothing(index_elements=["request_id", "created_at"]).returning(calls.c.request_id))
    new = set(conn.scalars(statement, rows))
    return rows if len(new) == len(rows) else [r for r in rows if r["request_id"] in new]


def _charge(conn, rows: list[dict], strict: bool) -> dict[int, int]:
    """The balances, then the usage ledger rows; organisations in one order (id) so concurrent writers
    never deadlock."""
    if not rows:
        return {}
    spent: dict[int, int] = defaultdict(int)
    for r in rows:
        spent[r["organisation_id"]] += r["credits"]
    owners = Organisation.__table__
    balances = {}
    if strict:  # one conditional UPDATE per organisation: never below zero, also under concurrent calls
        for owner in sorted(spent):
            left = conn.execute(update(owners).where(owners.c.id == owner, owners.c.credit_balance >= spent[owner])
                                .values(credit_balance=owners.c.credit_balance - spent[owner])
                                .returning(owners.c.credit_balance)).first()
            if left is None:
                raise InsufficientCredits(stored_balance(conn, owner), spent[owner])
            balances[owner] = left[0]
    else:  # Redis already decided these charges against the spendable balance
        conn.execute(update(owners).where(owners.c.id == bindparam("b_owner"))
                     .values(credit_balance=owners.c.credit_balance - bindparam("b_spent")),
                     [{"b_owner": owner, "b_spent": spent[owner]} for owner in sorted(spent)])
    conn.execute(CreditEntry.__table__.insert(),
                 [{"organisation_id": r["organisation_id"], "created_at": r["created_at"], "kind": CreditKind.USAGE,
                   "amount": -r["credits"], "call_id": r["request_id"]} for r in rows])
    return balances


def _roll_up(conn, rows: list[dict]) -> None:
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        total = totals[(r["created_at"].date(), r["organisation_id"], r["key_id"], r["endpoint"])]
        total[0] += 1
        total[1] += r["credits"]
        total[2] += 1 if r["status"] >= 400 else 0
    keyed = [{"day": day, "organisation_id": user, "key_id": key, "endpoint": endpoint, "calls": c, "credits": cr,
              "errors": e} for (day, user, key, endpoint), (c, cr, e) in sorted(totals.items(), key=_order)
             if key is not None]
    daily = UsageDaily.__table__
    if keyed:  # one statement, safe under concurrency: insert the day's row or add to it
        statement = dialect_insert(conn.dialect.name)(daily)
        statement = statement.on_conflict_do_update(
            index_elements=["day", "organisation_id", "key_id", "endpoint"],
            set_={"calls": daily.c.calls + statement.excluded.calls,
                  "credits": daily.c.credits + statement.excluded.credits,
                  "errors": daily.c.errors + statement.excluded.errors})
        conn.execute(statement, keyed)
    for (day, user, key, endpoint), (calls, credits, errors) in totals.items():
        if key is None:  # the key was deleted meanwhile
            _add_keyless_usage(conn, day=day, organisation_id=user, endpoint=endpoint, calls=calls, credits=credits,
                               errors=errors)


def _add_keyless_usage(conn, *, day: date, organisation_id: int, endpoint: str, calls: int, credits: int,
                       errors: int) -> None:
    """NULLs never conflict in a unique constraint: count key-less calls by update, else insert."""
    daily = UsageDaily.__table__
    where = (daily.c.day == day, daily.c.organisation_id == organisation_id, daily.c.endpoint == endpoint,
             daily.c.key_id.is_(None))
    added = {"calls": daily.c.calls + calls, "credits": daily.c.credits + credits, "errors": daily.c.errors + errors}
    if not conn.execute(update(daily).where(*where).values(**added)).rowcount:
        conn.execute(daily.insert().values(day=day, organisation_id=organisation_id, key_id=None, endpoint=endpoint,
                                           calls=calls, credits=credits, errors=errors))


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


def dialect_insert(name: str):
    """``insert`` with ON CONFLICT for this database (SQLite or PostgreSQL)."""
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database {name}")  # pragma: no cover - only SQLite and PostgreSQL
