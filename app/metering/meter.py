"""Metering an API call: key check, rate limit, credit charge and call log, behind one interface.

Two meters keep the same promises (a revoked key stops on its next request, the balance never goes
below zero, a call is never charged twice, every call is logged with its charge):

- ``DatabaseMeter`` (no ``REDIS_URL``): each call is charged and logged in the database, in the
  request's transaction. Simple and durable; a few database statements per call.
- ``RedisMeter`` (``REDIS_URL`` set, see ``app/metering/redis_meter.py``): one atomic Redis script per
  call; the call records are written to the database in batches by ``app/metering/flush.py``.

``API_METERING`` chooses (``database`` | ``redis``); by default ``redis`` when ``REDIS_URL`` is set.
No request access here: the gateway view passes what it read from the request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, has_app_context
from limits import parse
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db, limiter

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
MODES = ("full", "check", "settle")


@dataclass(frozen=True)
class KeyInfo:
    """What the gateway needs to know about a usable key."""

    id: int
    user_id: int
    rate_limit: int | None
    expires_at: datetime | None
    epoch: str = ""  # the key-cache generation it was read under (RedisMeter)
    secret_hash: str = ""

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(slots=True)
class CallRecord:
    """One call as the log keeps it."""

    request_id: str
    method: str
    endpoint: str
    ip: str | None
    created_at: datetime
    latency_ms: int

    def pack(self, user_id: int, key_id: int) -> str:
        """One string for the Redis stream (the meter appends the status and the credits charged)."""
        return SEP.join((self.request_id, str(user_id), str(key_id), self.method, self.endpoint, self.ip or "",
                         self.created_at.isoformat(), str(self.latency_ms)))


SEP = "\x1f"  # the ASCII unit separator: never part of an id, a method, a route pattern, an IP or a time


def unpack(fields: dict) -> dict:
    """A packed stream record as the call log's columns."""
    request_id, user, key, method, endpoint, ip, created, latency, status, credits = fields["v"].split(SEP)
    return {"request_id": request_id, "user_id": int(user), "key_id": int(key) if key else None,
            "created_at": datetime.fromisoformat(created), "method": method, "endpoint": endpoint,
            "status": int(status), "credits": int(credits), "latency_ms": int(latency), "ip": ip or None,
            "ip_truncated": False}


@dataclass(frozen=True)
class Outcome:
    """What metering decided: the final status, the credits charged and the balance left."""

    status: int
    credits: int
    balance: int
    limit: int
    remaining: int
    reset: int  # seconds until the window has room again
    retry_after: int = 0

    def headers(self) -> dict:
        """IETF draft RateLimit headers (draft-ietf-httpapi-ratelimit-headers), the balance and Retry-After."""
        headers = {
            "RateLimit-Policy": f'"per-key";q={self.limit};w={WINDOW_SECONDS}',
            "RateLimit": f'"per-key";r={self.remaining};t={self.reset}',
            "X-Credits-Remaining": str(self.balance),
        }
        if self.status == 429:
            headers["Retry-After"] = str(max(1, self.retry_after))
        return headers


class KeyChanged(Exception):
    """The key was revoked, rotated out or its owner suspended since this process cached it."""


class MeteringUnavailable(Exception):
    """The metering store could not be reached; the call was neither served nor charged."""


class DatabaseMeter:
    """Charges and logs each call in the database, in the request's transaction."""

    name = "database"

    def find_key(self, secret: str, now: datetime) -> KeyInfo | None:
        from app.keys.services import find_usable_key

        key = find_usable_key(secret, now)
        if key is None:
            return None
        return KeyInfo(key.id, key.user_id, key.rate_limit_per_minute, key.expires_at)

    def meter(self, key: KeyInfo, limit: int, price: int, status: int, mode: str, record: CallRecord,
              now: datetime) -> Outcome:
        """Rate-limit (unless settling), charge ``price`` when ``status`` is a success, log the call.

        ``mode``: ``full`` does all three; ``check`` counts the call against the window and checks
        the balance, logging only a refusal; ``settle`` charges and logs a call already counted.
        """
        from app.billing import services as billing
        from app.keys.models import ApiKey
        from app.keys.services import mark_used
        from app.usage.services import record_call

        item = parse(f"{limit} per minute")
        stats_key = ("api-key", str(key.id))
        if mode != "settle" and not limiter.limiter.hit(item, *stats_key):
            status = 429
        credits = 0
        if status < 400 and price > 0 and mode != "check":
            try:  # one conditional UPDATE: never below zero, also under concurrent calls
                balance = billing.charge_call(key.user_id, price, record.request_id, now)
                credits = price
            except billing.InsufficientCredits as exc:
                status, balance = 402, exc.balance
        else:
            balance = billing.current_balance(key.user_id)
            if status < 400 and balance < price:
                status = 402
        if mode != "check" or status >= 400:
            record_call(request_id=record.request_id, user_id=key.user_id, key_id=key.id, method=record.method,
                        endpoint=record.endpoint, status=status, credits=credits, ip=record.ip, now=now,
                        latency_ms=record.latency_ms)
            mark_used(db.session.get(ApiKey, key.id), now)
            if credits:
                billing.check_low_credit(key.user_id, balance, current_app.config)
            db.session.commit()
        window = limiter.limiter.get_window_stats(item, *stats_key)
        reset = max(0, math.ceil(window.reset_time - time.time()))
        return Outcome(status, credits, balance, limit, max(0, window.remaining), reset, reset)

    def balance(self, user_id: int) -> int:
        from app.billing import services as billing

        return billing.current_balance(user_id)

    def after_call(self) -> None:
        """Nothing to do: the call is already in the database."""

    def close(self, forget: bool = False) -> None:
        """Nothing to close."""


def register_metering(app: Flask) -> None:
    """Choose the meter for this application (``API_METERING``, default by ``REDIS_URL``)."""
    mode = app.config.get("API_METERING") or ("redis" if app.config.get("REDIS_URL") else "database")
    if mode == "redis":
        if not app.config.get("REDIS_URL"):
            raise RuntimeError("API_METERING=redis needs REDIS_URL")
        from app.metering.redis_meter import RedisMeter

        meter = RedisMeter.from_config(app)
    elif mode == "database":
        meter = DatabaseMeter()
    else:
        raise RuntimeError(f"API_METERING must be 'database' or 'redis', not {mode!r}")
    app.extensions["twtapi_meter"] = meter


def get_meter() -> DatabaseMeter:
    """The current application's meter (a DatabaseMeter or a RedisMeter)."""
    return current_app.extensions["twtapi_meter"]


def balances_changed(user_id: int, amount: int = 0) -> int:
    """Call when a transaction changes a balance outside the gateway: once it ends, the Redis
    meter reloads that balance from the database. Returns the transaction's change so far."""
    changes = db.session.info.setdefault("twtapi_balances_changed", {})
    changes[user_id] = changes.get(user_id, 0) + amount
    return changes[user_id]


@event.listens_for(Session, "before_flush")
def _watch_keys(session, _context, _instances) -> None:
    """A changed or deleted key, or an owner suspended, closed or erased, may stop keys working:
    once the transaction commits, every process drops the keys it has cached (RedisMeter)."""
    from sqlalchemy import inspect

    from app.auth.models import User
    from app.keys.models import ApiKey

    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ApiKey) or (isinstance(obj, User) and _owner_changed(inspect(obj))):
            session.info["twtapi_keys_changed"] = True
            return


def _owner_changed(state) -> bool:
    return any(state.attrs[name].history.has_changes() for name in ("suspended_at", "minor_flagged_at", "closed_at",
                                                                     "erased_at"))


@event.listens_for(Session, "do_orm_execute")
def _watch_bulk_key_changes(execute_state) -> None:
    from app.keys.models import ApiKey

    if (execute_state.is_update or execute_state.is_delete) and execute_state.bind_mapper is not None \
            and execute_state.bind_mapper.class_ is ApiKey:
        execute_state.session.info["twtapi_keys_changed"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    _tell_meter(session, committed=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    _tell_meter(session, committed=False)


def _tell_meter(session, committed: bool) -> None:
    users = session.info.pop("twtapi_balances_changed", None)
    keys_changed = session.info.pop("twtapi_keys_changed", False)
    if not (users or keys_changed) or not has_app_context():
        return
    meter = current_app.extensions.get("twtapi_meter")
    if getattr(meter, "name", None) != "redis":
        return
    import redis

    try:
        if users:
            meter.invalidate_balances(users)
        if keys_changed and committed:
            meter.bump_epoch()
    except redis.RedisError:  # the change is committed; cached state heals (balances expire, keys reload)
        log.exception("could not tell the Redis meter about a committed change")
