"""The reads metering needs from the database: a usable key for a secret, a stored balance, the
credits spent against caps."""

from __future__ import annotations

import ipaddress
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, func, select

from app.auth.models import User
from app.extensions import db
from app.keys.models import KEY_PREFIX, ApiKey
from app.metering.types import KeyInfo
from app.organisations.models import Organisation
from app.security import hash_token
from app.usage.models import UsageDaily


class LoadedKey(NamedTuple):
    """A key with what its owner's row adds to its controls."""

    key: ApiKey
    spend_limit: int | None
    alert_levels: str | None

    @property
    def organisation_id(self) -> int:
        return self.key.organisation_id


_FIND_KEY = (select(ApiKey, Organisation.monthly_spend_limit, Organisation.alert_levels,
                    Organisation.suspended_at, Organisation.closed_at, User.suspended_at, User.minor_flagged_at)
             .join(Organisation, Organisation.id == ApiKey.organisation_id)
             .outerjoin(User, User.id == ApiKey.created_by_id)
             .where(ApiKey.secret_hash == bindparam("hash")))


def looks_like_key(secret: str) -> bool:
    """Whether ``secret`` could be one of our keys at all (no lookup for anything else)."""
    return secret.startswith(KEY_PREFIX) and len(secret) <= 100


def find_key(secret: str) -> LoadedKey | None:
    """The key for ``secret`` if it is not revoked and its owner may use it; it may have expired
    (the gateway says so, see ``KeyInfo.usable``)."""
    if not looks_like_key(secret):
        return None
    return find_key_by_hash(hash_token(secret))


def find_key_by_hash(secret_hash: str) -> LoadedKey | None:
    """The unrevoked key with this secret hash whose organisation may use it (not suspended or
    closed), made by a member who may (not suspended, not flagged as a minor: staff stopped that
    person, and the keys they made stop with them)."""
    row = db.session.execute(_FIND_KEY, {"hash": secret_hash}).first()
    if row is None or any(blocked is not None for blocked in row[3:]):
        return None
    return LoadedKey(row[0], row[1], row[2]) if row[0].revoked_at is None else None


@lru_cache(maxsize=4096)
def parse_allowlist(text: str | None) -> tuple[tuple, frozenset, tuple]:
    """A stored allowlist as (networks, single addresses as (version, int), ranges as (version,
    network int, mask int)); cached by its text: the database meter reads the key on every call,
    and parsing 50 entries took ~0.4 ms of it."""
    networks = tuple(ipaddress.ip_network(n) for n in (text or "").split(",") if n)
    single = {n for n in networks if n.num_addresses == 1}
    return (networks, frozenset((n.version, int(n.network_address)) for n in single),
            tuple((n.version, int(n.network_address), int(n.netmask)) for n in networks if n not in single))


def key_info(loaded: LoadedKey, epoch: str = "", secret_hash: str = "") -> KeyInfo:
    """What the gateway keeps of a key: its limits and controls, parsed once per load."""
    key = loaded.key
    networks, hosts, ranges = parse_allowlist(key.allowed_ips)
    return KeyInfo(key.id, key.organisation_id, key.rate_limit_per_minute, key.stops_at(), epoch, secret_hash,
                   last_used_at=key.last_used_at, scopes=frozenset(key.scope_list) if key.scopes else None,
                   networks=networks, hosts=hosts, ranges=ranges,
                   daily_cap=key.daily_cap or None, monthly_cap=key.monthly_cap or None,
                   spend_limit=loaded.spend_limit or None,
                   alert_levels=tuple(int(v) for v in (loaded.alert_levels or "").split(",") if v))


def stored_balance(executor, organisation_id: int) -> int:
    """The balance in the database, read on ``executor`` (the session, or a connection outside it)."""
    return executor.scalar(select(Organisation.credit_balance).where(Organisation.id == organisation_id)) or 0


def month_start(day: date) -> date:
    return day.replace(day=1)


_DAILY = UsageDaily.__table__
_KEY_CREDITS = func.sum(_DAILY.c.credits).filter(_DAILY.c.key_id == bindparam("key"))
# Built once: the statement runs on every charge of a capped key (construction was most of its cost).
_SPENT = select(
    func.coalesce(func.sum(_DAILY.c.credits).filter(_DAILY.c.key_id == bindparam("key"),
                                                    _DAILY.c.day == bindparam("day")), 0),
    func.coalesce(_KEY_CREDITS, 0), func.coalesce(func.sum(_DAILY.c.credits), 0),
).where(_DAILY.c.organisation_id == bindparam("organisation"), _DAILY.c.day >= bindparam("month"))


def spent(executor, organisation_id: int, key_id: int, day: date) -> tuple[int, int, int]:
    """Credits spent as logged: by the key today and this month, and by the whole account this
    month (the daily roll-ups; read after the balance's row lock, they hold every committed call)."""
    row = executor.execute(_SPENT, {"key": key_id, "day": day, "organisation": organisation_id,
                                    "month": month_start(day)}).first()
    return int(row[0]), int(row[1]), int(row[2])
