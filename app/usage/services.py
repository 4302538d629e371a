"""Reading usage: the daily roll-ups and the call log (metering writes both, in the same
transaction as the call: see app/metering/write.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import func, select

from app.csvstream import csv_lines
from app.extensions import db
from app.keys.models import ApiKey
from app.usage.models import UsageDaily


def daily(organisation_id: int, since: date, until: date) -> list[dict]:
    rows = dict((r[0], r[1:]) for r in db.session.execute(
        select(UsageDaily.day, func.sum(UsageDaily.calls), func.sum(UsageDaily.credits), func.sum(UsageDaily.errors))
        .where(UsageDaily.organisation_id == organisation_id, UsageDaily.day.between(since, until))
        .group_by(UsageDaily.day)))
    out = []
    for i in range((until - since).days + 1):
        day = since + timedelta(days=i)
        calls, credits, errors = rows.get(day, (0, 0, 0))
        out.append({"day": day, "calls": int(calls or 0), "credits": int(credits or 0), "errors": int(errors or 0)})
    return out


def by_endpoint(organisation_id: int, since: date, until: date) -> list[dict]:
    rows = db.session.execute(
        select(UsageDaily.endpoint, func.sum(UsageDaily.calls), func.sum(UsageDaily.credits),
               func.sum(UsageDaily.errors))
        .where(UsageDaily.organisation_id == organisation_id, UsageDaily.day.between(since, until))
        .group_by(UsageDaily.endpoint).order_by(func.sum(UsageDaily.calls).desc()))
    return [{"endpoint": r[0], "calls": int(r[1]), "credits": int(r[2]), "errors": int(r[3])} for r in rows]


def by_key(organisation_id: int, since: date, until: date) -> list[dict]:
    rows = db.session.execute(
        select(ApiKey.name, ApiKey.prefix, func.sum(UsageDaily.calls), func.sum(UsageDaily.credits))
        .select_from(UsageDaily).outerjoin(ApiKey, ApiKey.id == UsageDaily.key_id)
        .where(UsageDaily.organisation_id == organisation_id, UsageDaily.day.between(since, until))
        .group_by(ApiKey.name, ApiKey.prefix).order_by(func.sum(UsageDaily.calls).desc()))
    return [{"name": r[0], "prefix": r[1], "calls": int(r[2]), "credits": int(r[3])} for r in rows]


def month_totals(organisation_id: int, today: date) -> dict:
    row = db.session.execute(
        select(func.coalesce(func.sum(UsageDaily.calls), 0), func.coalesce(func.sum(UsageDaily.credits), 0))
        .where(UsageDaily.organisation_id == organisation_id, UsageDaily.day >= today.replace(day=1))).first()
    return {"calls": int(row[0]), "credits": int(row[1])}


def daily_csv(organisation_id: int, since: date, until: date) -> Iterator[str]:
    rows = ((d["day"].isoformat(), d["calls"], d["credits"], d["errors"]) for d in daily(organisation_id, since, until))
    return csv_lines(["day", "calls", "credits", "errors"], rows)


def calls_csv(rows) -> Iterator[str]:
    """Calls (``call_log.csv_rows``) as CSV lines."""
    return csv_lines(["time_utc", "request_id", "key", "method", "endpoint", "status", "credits", "latency_ms",
                       "ip"], rows)


def has_calls(organisation_id: int) -> bool:
    """Whether any key of the organisation has ever made a call (its daily roll-ups outlive the raw log)."""
    made = select(UsageDaily.id).where(UsageDaily.organisation_id == organisation_id).exists()
    return bool(db.session.scalar(select(made)))
