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

    def check(self, key: KeyInfo, limit: int, price: int, record: CallRecord, now: datetime) -> Outcome:
        """See ``types.Meter.check``. A refusal is logged in the request's transaction, which the unit
        of work commits (the API keeps it on its error response)."""
        window = _window(limit)
        status = 200 if _hit(window, key) else 429
        conn = db.session.connection()
        balance, capped = None, None
        if status < 400 and price > 0 and key.capped:  # before the backend's work; settle re-checks
            balance = stored_balance(conn, key.organisation_id)
            if balance >= price:  # the balance first, as in the charge
                capped = over_cap(key, price, *spent(conn, key.organisation_id, key.id, now.date()))
        status = _capped_status(capped, status)
        if balance is None:
            balance = stored_balance(conn, key.organisation_id)
        if status < 400 and balance < price:
            status = 402
        if status >= 400:
            write_records(conn, [record.row(key.organisation_id, key.id, status, 0)], fresh=True,
                          touch_keys=_touch(key, now))
        return _outcome(window, key, limit, status, 0, balance, capped, (None, None), now)

    def settle(self, key: KeyInfo, limit: int, price: int, status: int, record: CallRecord, now: datetime,
               checked: Outcome | None = None) -> Outcome:
        """See ``types.Meter.settle``. The call is written in the request's transaction: the unit of
        work commits the charge and the call row together."""
        window = _window(limit)
        if checked is None and not _hit(window, key):
            status = 429
        conn = db.session.connection()
        touch = _touch(key, now)
        credits, balance, capped, used = 0, None, None, (None, None)
        if status < 400 and price > 0:
            try:
                balance, used = self._charge(conn, key, price, status, record, now, touch)
                credits = price
            except InsufficientCredits as exc:
                status, balance = 402, exc.balance
            except CapReached as exc:
                db.session.rollback()  # nothing of this charge stays
                conn, balance, capped = db.session.connection(), None, exc
        status = _capped_status(capped, status)
        if balance is None:
            balance = stored_balance(conn, key.organisation_id)
        if status < 400 and balance < price and not credits:
            status = 402
        if not credits:
            write_records(conn, [record.row(key.organisation_id, key.id, status, 0)], fresh=True, touch_keys=touch)
        return _outcome(window, key, limit, status, credits, balance, capped, used, now)

    def _charge(self, conn, key: KeyInfo, price: int, status: int, record: CallRecord, now: datetime,
                touch: bool) -> tuple[int, tuple[int | None, int | None]]:
        """Write the call with its price: the balance left and what the key spent today and this month
        (when it has caps). Raises InsufficientCredits, or CapReached (the caller rolls back)."""
        balance = write_records(conn, [record.row(key.organisation_id, key.id, status, price)], strict=True,
                                fresh=True, touch_keys=touch)[key.organisation_id]
        used = (None, None)
        if key.capped:  # the balance's row lock is held: every earlier charge is counted
            used = self._check_caps(conn, key, price, now)
        hooks.charged(Charge(key, price, balance + price, balance, *used))
        return balance, used

    @staticmethod
    def _check_caps(conn, key: KeyInfo, price: int, now: datetime) -> tuple[int, int]:
        """What the key spent today and this month with this call; raises CapReached when the call
        passes a cap (the caller rolls the charge back)."""
        day, month, account = spent(conn, key.organisation_id, key.id, now.date())
        refused = over_cap(key, price, day - price, month - price, account - price)
        if refused is not None:
            raise refused
        return day, month

    def balance(self, organisation_id: int) -> int:
        return stored_balance(db.session, organisation_id)

    def after_call(self) -> None:
        """Nothing to do: the call is already in the database."""

    def close(self, forget: bool = False) -> None:
        """Nothing to close."""


def _window(limit: int):
    """The key's rate limit as the limiter's item."""
    return parse(f"{limit} per minute")


def _hit(window, key: KeyInfo) -> bool:
    """Count one call against the key's window: False when the window is full."""
    return limiter.limiter.hit(window, "api-key", str(key.id))


def _touch(key: KeyInfo, now: datetime) -> bool:
    """Whether this call writes the key's "last used" (a write a minute)."""
    return key.last_used_at is None or now - key.last_used_at >= LAST_USE_RESOLUTION


def _capped_status(capped: CapReached | None, status: int) -> int:
    """The refusal a reached cap means (429 for the spend limit, 402 for a key's cap), else ``status``."""
    if capped is None:
        return status
    return 429 if capped.capped_by == "spend" else 402


def _outcome(window, key: KeyInfo, limit: int, status: int, credits: int, balance: int, capped: CapReached | None,
             used: tuple[int | None, int | None], now: datetime) -> Outcome:
    """What the gateway answers with: the status, the charge and the rate-limit and cap headers."""
    stats = limiter.limiter.get_window_stats(window, "api-key", str(key.id))
    reset = max(0, math.ceil(stats.reset_time - time.time()))
    if capped is not None:
        wait = seconds_until(resets_at(capped.capped_by, now), now)
        return Outcome(status, 0, balance, limit, max(0, stats.remaining), reset, wait, capped.capped_by,
                       capped.cap, capped.used)
    return Outcome(status, credits, balance, limit, max(0, stats.remaining), reset, reset,
                   day_used=used[0], month_used=used[1])
