"""Usage alerts and the spend limit: the customer's low-balance thresholds and the balances they
come to, the other addresses alerts go to (each confirmed by a link), and the e-mail when a key
has used 80 % of a cap. No request, no commit.

A threshold is ``N%`` (a share of the credits the account used in the last 30 days, or of its last
purchase while it has used none) or ``N`` credits. The balances they come to are kept on the
account (``alert_levels``), so the check after each charge reads nothing: they are computed again
when the customer saves them, on every top-up and daily (``flask credits refresh-alerts``).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from app.auth.models import User
from app.billing.models import AlertRecipient, CreditEntry, CreditKind
from app.database import insert_once, lock_row
from app.email import external_url, queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.metering.caps import CAP_ALERT_SHARE, crossed_alert
from app.metering.lookups import month_start
from app.metering.types import Charge
from app.security import hash_token
from app.uow import commit_now
from app.usage.models import UsageDaily

MAX_THRESHOLDS = 5
MAX_RECIPIENTS = 5
USE_DAYS = 30


class InvalidThresholds(ValueError):
    """Thresholds that are not ``N%`` (1 to 100) or ``N`` credits, or too many."""


class RecipientLimitReached(Exception):
    """The account already has the most alert addresses allowed."""


def parse_thresholds(text: str | None) -> list[tuple[int, bool]]:
    """``"25%, 10%, 500"`` as [(25, True), (10, True), (500, False)]; raises InvalidThresholds."""
    entries = [e.strip() for e in (text or "").replace(";", ",").split(",") if e.strip()]
    if len(entries) > MAX_THRESHOLDS:
        raise InvalidThresholds(f"at most {MAX_THRESHOLDS}")
    parsed = []
    for entry in entries:
        share = entry.endswith("%")
        number = entry[:-1].strip() if share else entry
        if not number.isdigit() or len(number) > 9 or (share and not 1 <= int(number) <= 100):
            raise InvalidThresholds(entry)
        parsed.append((int(number), share))
    return list(dict.fromkeys(parsed))


def format_thresholds(parsed: list[tuple[int, bool]]) -> str:
    return ",".join(f"{n}%" if share else str(n) for n, share in parsed)


def thresholds_of(user: User, config) -> str:
    """The thresholds the account uses: its own, or the site's default."""
    return user.alert_thresholds if user.alert_thresholds is not None else config["LOW_CREDIT_THRESHOLDS"]


def recent_use(user_id: int, today: date) -> int:
    """Credits the account spent in the last 30 days (the daily roll-ups)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(UsageDaily.credits), 0)).where(
        UsageDaily.user_id == user_id, UsageDaily.day > today - timedelta(days=USE_DAYS))) or 0)


def last_purchase(user_id: int) -> int:
    return int(db.session.scalar(select(CreditEntry.amount).where(
        CreditEntry.user_id == user_id, CreditEntry.kind == CreditKind.PURCHASE)
        .order_by(CreditEntry.id.desc()).limit(1))
        or 0)


def levels_for(user: User, config, today: date) -> list[int]:
    """The balances the account's thresholds come to now, highest first."""
    parsed = parse_thresholds(thresholds_of(user, config))
    basis = None
    levels = set()
    for number, share in parsed:
        if share:
            basis = basis if basis is not None else (recent_use(user.id, today) or last_purchase(user.id))
            if basis:
                levels.add(basis * number // 100)
        else:
            levels.add(number)
    return sorted(levels, reverse=True)


def refresh_levels(user: User, config, today: date) -> list[int]:
    """Compute the account's alert balances again; written only when they changed (a change
    reaches the gateway's cached keys, see ``metering.hooks``)."""
    levels = levels_for(user, config, today)
    text = ",".join(map(str, levels)) or None
    if user.alert_levels != text:
        user.alert_levels = text
    return levels


def refresh_all(config, today: date, batch: int = 500) -> int:
    """Recompute every open account's alert balances (daily: shares follow the last 30 days' use);
    commits each batch. The number of accounts whose balances changed."""
    changed, last_id = 0, 0
    while True:
        users = list(db.session.scalars(select(User).where(User.id > last_id, User.erased_at.is_(None))
                                        .order_by(User.id).limit(batch)))
        if not users:
            return changed
        for user in users:
            before = user.alert_levels
            refresh_levels(user, config, today)
            changed += user.alert_levels != before
        last_id = users[-1].id
        commit_now("alert levels: one batch of accounts a transaction")


def save_settings(user: User, thresholds: str, spend_limit: int | None, config, today: date) -> list[int]:
    """The customer's thresholds (validated) and monthly spend limit (None: none). The levels are
    armed afresh: a threshold already below the balance warns when it is crossed."""
    user.alert_thresholds = format_thresholds(parse_thresholds(thresholds))
    user.monthly_spend_limit = spend_limit or None
    user.low_credit_notified = None
    levels = refresh_levels(user, config, today)
    db.session.flush()
    return levels


# --- other addresses --------------------------------------------------------------------------

def recipients(user_id: int) -> list[AlertRecipient]:
    return list(db.session.scalars(select(AlertRecipient).where(AlertRecipient.user_id == user_id)
                                   .order_by(AlertRecipient.id)))


def add_recipient(user: User, email: str, config, now: datetime) -> AlertRecipient | None:
    """Add an address and e-mail it a confirmation link; alerts go there once it is followed.
    None when the address is the account's own or already listed. Raises RecipientLimitReached."""
    email = email.strip().lower()
    if email == user.email:
        return None
    lock_row(User.__table__, user.id)  # concurrent adds of one account count one after another
    if len(recipients(user.id)) >= MAX_RECIPIENTS:
        raise RecipientLimitReached()
    token = secrets.token_urlsafe(32)
    if not insert_once(AlertRecipient.__table__, user_id=user.id, email=email, token_hash=hash_token(token),
                       created_at=now):
        return None  # listed already (unique per account)
    recipient = db.session.scalar(select(AlertRecipient).where(AlertRecipient.user_id == user.id,
                                                               AlertRecipient.email == email))
    queue_email(email, "alert_recipient_confirm", user.locale or config["BABEL_DEFAULT_LOCALE"],
                confirm_url=external_url("billing.confirm_alert_recipient", token=token),
                days=config["ALERT_RECIPIENT_CONFIRM_DAYS"])
    return recipient


def confirm_recipient(token: str, config, now: datetime) -> AlertRecipient | None:
    """Confirm the address behind a link (once; an expired or used link gives None)."""
    if not token or len(token) > 100:
        return None
    cutoff = now - timedelta(days=config["ALERT_RECIPIENT_CONFIRM_DAYS"])
    recipient = db.session.scalar(select(AlertRecipient).where(AlertRecipient.token_hash == hash_token(token),
                                                               AlertRecipient.created_at >= cutoff))
    if recipient is None:
        return None
    recipient.verified_at, recipient.token_hash = now, None
    db.session.flush()
    return recipient


def remove_recipient(user: User, recipient_id: int) -> bool:
    return bool(db.session.execute(delete(AlertRecipient).where(
        AlertRecipient.id == recipient_id, AlertRecipient.user_id == user.id)).rowcount)


def alert_addresses(user: User) -> list[str]:
    """The account's own address, then every confirmed other one."""
    return [user.email, *db.session.scalars(select(AlertRecipient.email).where(
        AlertRecipient.user_id == user.id, AlertRecipient.verified_at.is_not(None)).order_by(AlertRecipient.id))]


# --- a key's caps -----------------------------------------------------------------------------

def after_charge_caps(charge: Charge, config, now: datetime) -> bool:
    """E-mail once a period when a charge brings a key to 80 % of its daily or monthly cap; True
    when it wrote to the session."""
    wrote = False
    key = charge.key
    for period, cap, used, start in (("day", key.daily_cap, charge.day_used, now.date()),
                                     ("month", key.monthly_cap, charge.month_used, month_start(now.date()))):
        if crossed_alert(cap, used, charge.price):
            wrote = _cap_alert(key.id, key.user_id, period, cap, used, start, config) or wrote
    return wrote


def _cap_alert(key_id: int, user_id: int, period: str, cap: int, used: int, start: date, config) -> bool:
    """Claim the period's alert (a conditional update, so concurrent calls send one) and queue it."""
    keys = ApiKey.__table__  # a table update: claiming the alert changes nothing the gateway caches
    column = keys.c.cap_alert_day if period == "day" else keys.c.cap_alert_month
    claimed = db.session.execute(update(keys).where(keys.c.id == key_id, or_(column.is_(None), column < start))
                                 .values({column: start})).rowcount
    if claimed != 1:
        return False
    user, key = db.session.get(User, user_id), db.session.get(ApiKey, key_id)
    for address in alert_addresses(user):
        queue_email(address, "key_cap_alert", user.locale or config["BABEL_DEFAULT_LOCALE"], user_id=user.id,
                    name=key.name,
                    prefix=key.prefix, period=period, used=used, cap=cap, share=int(CAP_ALERT_SHARE * 100),
                    keys_url=external_url("keys.edit_key", key_id=key.id))
    return True
