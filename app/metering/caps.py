"""The credit caps a charge must fit: the key's own per UTC day and calendar month, and the
account's monthly spend limit. Both meters decide with these rules (the Redis meter in its script,
``scripts.METER``, which keeps the same order)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.metering.types import CapReached, KeyInfo

CAP_ALERT_SHARE = 0.8  # a key's owner hears once a period when it has used this share of a cap


def over_cap(key: KeyInfo, price: int, day: int, month: int, account: int) -> CapReached | None:
    """The first limit that ``price`` more credits would pass, given what was spent before it: the
    key's daily cap, its monthly cap, then the account's monthly spend limit."""
    if key.daily_cap and day + price > key.daily_cap:
        return CapReached("day", key.daily_cap, day)
    if key.monthly_cap and month + price > key.monthly_cap:
        return CapReached("month", key.monthly_cap, month)
    if key.spend_limit and account + price > key.spend_limit:
        return CapReached("spend", key.spend_limit, account)
    return None


def next_month(now: datetime) -> datetime:
    """00:00 UTC on the first day of the next calendar month, when monthly caps start again."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def next_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def resets_at(capped_by: str, now: datetime) -> datetime:
    """When the limit that refused a call starts again."""
    return next_day(now) if capped_by == "day" else next_month(now)


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def crossed_alert(cap: int | None, used: int | None, price: int) -> bool:
    """Whether the charge that brought a key's use to ``used`` crossed 80 % of ``cap``."""
    if not cap or used is None:
        return False
    mark = cap * CAP_ALERT_SHARE
    return used - price < mark <= used
