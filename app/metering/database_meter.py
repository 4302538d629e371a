"""The database meter (no ``REDIS_URL``): each call is rate-limited, charged and logged in the
request's transaction, as a batch of one through the flusher's own write path (``write.py``)."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from limits import parse

from app.extensions import db, limiter
from app.metering import hooks
from app.metering.caps import over_cap, resets_at, seconds_until
from app.metering.lookups import find_key as lookup_key
from app.metering.lookups import key_info, spent, stored_balance
from app.metering.types import CallRecord, CapReached, Charge, InsufficientCredits, KeyInfo, Outcome
from app.metering.write import write_records

LAST_USE_RESOLUTION = timedelta(minutes=1)  # a key's "last used" is written at most this often


class DatabaseMeter:
    """Charges and logs each call in the database, in the request's transaction."""

    name = "database"

    def find_key(self, secret: str, now: datetime) -> KeyInfo | None:
        loaded = lookup_key(secret)
        return key_info(loaded) if loaded is not None else None

    def current_key(self, key: KeyInfo, now: datetime) -> KeyInfo | None:
        """Read on every call already: as it is now."""
        return key

    def meter(self, key: KeyInfo, limit: int, price: int, status: int, record: CallRecord, now: datetime, *,
              count: bool, commit: bool) -> Outcome:
        """See ``types.Meter.meter``. Commits the request's transaction when it wrote the call."""
        item = parse(f"{limit} per minute")
        stats_key = ("api-key", str(key.id))
        if count and not limiter.limiter.hit(item, *stats_key):
            status = 429
        conn = db.session.connection()
        touch = key.last_used_at is None or now - key.last_used_at >= LAST_USE_RESOLUTION  # a write a minute
        credits, balance, capped, used = 0, None, None, (None, None)
        if not commit and status < 400 and price > 0 and key.capped:  # before the backend's work; settle re-checks
            balance = stored_balance(conn, key.user_id)
            if balance >= price:  # the balance first, as in the charge
                capped = over_cap(key, price, *spent(conn, key.user_id, key.id, now.date()))
        if commit and status < 400 and price > 0:
            try:
                balance = write_records(conn, [record.row(key.user_id, key.id, status, price)], strict=True,
                                        fresh=True, touch_keys=touch)[key.user_id]
                if key.capped:  # the balance's row lock is held: every earlier charge is counted
                    used = self._check_caps(conn, key, price, now)
                credits = price
                hooks.charged(Charge(key, price, balance + price, balance, *used))
            except InsufficientCredits as exc:
                status, balance = 402, exc.balance
            except CapReached as exc:
                db.session.rollback()  # nothing of this charge stays
                conn, balance, capped = db.session.connection(), None, exc
        if capped is not None:
            status = 429 if capped.capped_by == "spend" else 402
        if balance is None:
            balance = stored_balance(conn, key.user_id)
        if status < 400 and balance < price and not credits:
            status = 402
        if not credits and (commit or status >= 400):
            write_records(conn, [record.row(key.user_id, key.id, status, 0)], fresh=True, touch_keys=touch)
        window = limiter.limiter.get_window_stats(item, *stats_key)
        reset = max(0, math.ceil(window.reset_time - time.time()))
        if capped is not None:
            wait = seconds_until(resets_at(capped.capped_by, now), now)
            return Outcome(status, 0, balance, limit, max(0, window.remaining), reset, wait, capped.capped_by,
                           capped.cap, capped.used)
        return Outcome(status, credits, balance, limit, max(0, window.remaining), reset, reset,
                       day_used=used[0], month_used=used[1])

    @staticmethod
    def _check_caps(conn, key: KeyInfo, price: int, now: datetime) -> tuple[int, int]:
        """What the key spent today and this month with this call; raises CapReached when the call
        passes a cap (the caller rolls the charge back)."""
        day, month, account = spent(conn, key.user_id, key.id, now.date())
        refused = over_cap(key, price, day - price, month - price, account - price)
        if refused is not None:
            raise refused
        return day, month

    def balance(self, user_id: int) -> int:
        return stored_balance(db.session, user_id)

    def after_call(self) -> None:
        """Nothing to do: the call is already in the database."""

    def close(self, forget: bool = False) -> None:
        """Nothing to close."""
