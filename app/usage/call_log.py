"""The call-log explorer: an organisation's raw calls (made with any member's keys) within
retention, filtered, newest first, in keyset pages (never OFFSET: page 1000 costs what page 1
does), and the same selection as CSV.

A page walks ``ix_api_calls_organisation_id_created_at`` backwards from a cursor (the last call's
time and id); a request id is looked up through the unique (request_id, created_at) index.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, tuple_

from app.extensions import db
from app.keys.models import ApiKey
from app.usage.models import ApiCall

PAGE_SIZE = 50
STATUS_CLASSES = {"2xx": (200, 299), "4xx": (400, 499), "5xx": (500, 599)}


@dataclass(frozen=True)
class CallFilters:
    """What the customer chose; every field optional. ``key_id`` must be one of the organisation's
    keys (the form only offers those, and the query also requires the organisation)."""

    since: date | None = None
    until: date | None = None
    key_id: int | None = None
    endpoint: str | None = None
    status_class: str | None = None
    request_id: str | None = None

    def clauses(self, organisation_id: int, oldest: datetime) -> list:
        where = [ApiCall.organisation_id == organisation_id, ApiCall.created_at >= oldest]
        if self.since:
            where.append(ApiCall.created_at >= datetime.combine(self.since, datetime.min.time()))
        if self.until:
            where.append(ApiCall.created_at < datetime.combine(self.until + timedelta(days=1), datetime.min.time()))
        if self.key_id:
            where.append(ApiCall.key_id == self.key_id)
        if self.endpoint:
            where.append(ApiCall.endpoint == self.endpoint)
        if self.status_class in STATUS_CLASSES:
            low, high = STATUS_CLASSES[self.status_class]
            where.append(ApiCall.status.between(low, high))
        if self.request_id:
            where.append(ApiCall.request_id == self.request_id)
        return where


@dataclass(frozen=True)
class CallPage:
    rows: list
    older: str | None  # the cursor of the next (older) page, None on the last


def encode_cursor(created_at: datetime, call_id: int) -> str:
    raw = f"{created_at.isoformat()}|{call_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (time, id) a cursor names, or None for a missing or garbled one (the first page)."""
    if not cursor or len(cursor) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, call_id = raw.partition("|")
        return datetime.fromisoformat(moment), int(call_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _columns():
    return (ApiCall.created_at, ApiCall.id, ApiCall.request_id, ApiKey.name, ApiKey.prefix, ApiCall.method,
            ApiCall.endpoint, ApiCall.status, ApiCall.credits, ApiCall.latency_ms, ApiCall.ip)


def page(organisation_id: int, filters: CallFilters, oldest: datetime, cursor: str | None = None,
         size: int = PAGE_SIZE) -> CallPage:
    """One page of calls, newest first, older than ``cursor``."""
    statement = (select(*_columns()).outerjoin(ApiKey, ApiKey.id == ApiCall.key_id)
                 .where(*filters.clauses(organisation_id, oldest)))
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(tuple_(ApiCall.created_at, ApiCall.id) < tuple_(*after))
    rows = db.session.execute(statement.order_by(ApiCall.created_at.desc(), ApiCall.id.desc())
                              .limit(size + 1)).all()
    older = encode_cursor(rows[size - 1][0], rows[size - 1][1]) if len(rows) > size else None
    return CallPage(rows[:size], older)


def csv_rows(organisation_id: int, filters: CallFilters, oldest: datetime, batch: int = 5000) -> Iterator[tuple]:
    """Every call of the selection, newest first, in keyset batches (never all in memory)."""
    cursor = None
    while True:
        chunk = page(organisation_id, filters, oldest, cursor, batch)
        for r in chunk.rows:
            yield (r.created_at.isoformat(timespec="seconds") + "Z", r.request_id,
                   f"{r.prefix}…" if r.prefix else "", r.method, r.endpoint, r.status, r.credits, r.latency_ms,
                   r.ip or "")
        if chunk.older is None:
            return
        cursor = chunk.older


def organisation_keys(organisation_id: int) -> list[tuple[int, str]]:
    """The organisation's keys (revoked ones too: their calls are still in the log), for the filter."""
    return [(k.id, f"{k.name} ({k.prefix}…)") for k in db.session.scalars(
        select(ApiKey).where(ApiKey.organisation_id == organisation_id).order_by(ApiKey.created_at.desc()))]
