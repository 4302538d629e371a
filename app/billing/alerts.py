"""Usage alerts and the spend limit: an organisation's low-balance thresholds and the balances
they come to, who gets the alerts (its owners and billing members, and other addresses, each
confirmed by a link), and the e-mail when a key has used 80 % of a cap. No request, no commit.

A threshold is ``N%`` (a share of the credits the organisation used in the last 30 days, or of its
last purchase while it has used none) or ``N`` credits. The balances they come to are kept on the
organisation (``alert_levels``), so the check after each charge reads nothing: they are computed
again when a member saves them, on every top-up and daily (``flask credits refresh-alerts``).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select, update

from app.auth.models import User
from app.billing.models import AlertRecipient, CreditEntry, CreditKind
from app.database import insert_once, lock_row
from app.email import external_url, queue_email
from app.extensions import db
from app.keys.models import ApiKey
from app.metering.caps import CAP_ALERT_SHARE, crossed_alert
from app.metering.lookups import month_start
from app.metering.types import Charge
from app.organisations import events
from app.organisations import services as organisations
from app.organisations.models import Organisation, Role, TeamAction
from app.security import hash_token
from app.timeutil import utcnow
from app.uow import commit_now
from app.usage.models import UsageDaily

MAX_THRESHOLDS = 5
MAX_RECIPIENTS = 5
USE_DAYS = 30


class InvalidThresholds(ValueError):
    """Thresholds that are not ``N%`` (1 to 100) or ``N`` credits, or too many."""


class RecipientLimitReached(Exception):
    """The organisation already has the most alert addresses allowed."""


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


def thresholds_of(organisation: Organisation, config) -> str:
    """The thresholds the organisation uses: its own, or the site's default."""
    own = organisation.alert_thresholds
    return own if own is not None else config["LOW_CREDIT_THRESHOLDS"]


def recent_use(organisation_id: int, today: date) -> int:
    """Credits the organisation spent in the last 30 days (the daily roll-ups)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(UsageDaily.credits), 0)).where(
        UsageDaily.organisation_id == organisation_id, UsageDaily.day > today - timedelta(days=USE_DAYS))) or 0)


def last_purchase(organisation_id: int) -> int:
    return int(db.session.scalar(select(CreditEntry.amount).where(
        CreditEntry.organisation_id == organisation_id, CreditEntry.kind == CreditKind.PURCHASE)
        .order_by(CreditEntry.id.desc()).limit(1))
        or 0)


def levels_for(organisation: Organisation, config, today: date) -> list[int]:
    """The balances the organisation's thresholds come to now, highest first."""
    parsed = parse_thresholds(thresholds_of(organisation, config))
    basis = None
    levels = set()
    for number, share in parsed:
        if share:
            basis = basis if basis is not None else (recent_use(organisation.id, today)
                                                     or last_purchase(organisation.id))
            if basis:
                levels.add(basis * number // 100)
        else:
            levels.add(number)
    return sorted(levels, reverse=True)


def refresh_levels(organisation: Organisation, config, today: date) -> list[int]:
    """Compute the organisation's alert balances again; written only when they changed (a change
    reaches the gateway's cached keys, see ``metering.hooks``)."""
    levels = levels_for(organisation, config, today)
    text = ",".join(map(str, levels)) or None
    if organisation.alert_levels != text:
        organisation.alert_levels = text
    return levels


def refresh_all(config, today: date, batch: int = 500) -> int:
    """Recompute every open organisation's alert balances (daily: shares follow the last 30 days'
    use); commits each batch. The number of organisations whose balances changed."""
    changed, last_id = 0, 0
    while True:
        found = list(db.session.scalars(select(Organisation).where(
            Organisation.id > last_id, Organisation.closed_at.is_(None)).order_by(Organisation.id).limit(batch)))
        if not found:
            return changed
        for organisation in found:
            before = organisation.alert_levels
            refresh_levels(organisation, config, today)
            changed += organisation.alert_levels != before
        last_id = found[-1].id
        commit_now("alert levels: one batch of organisations a transaction")


def save_settings(organisation: Organisation, thresholds: str, spend_limit: int | None, config,
                  today: date, actor: User | None = None) -> list[int]:
    """The organisation's thresholds (validated) and monthly spend limit (None: none). The levels
    are armed afresh: a threshold already below the balance warns when it is crossed. A change
    ``actor`` made is in the team log."""
    before = (organisation.alert_thresholds, organisation.monthly_spend_limit)
    organisation.alert_thresholds = format_thresholds(parse_thresholds(thresholds))
    organisation.monthly_spend_limit = spend_limit or None
    if actor is not None:
        now = utcnow()
        if before[0] != organisation.alert_thresholds:
            events.record(organisation.id, actor, TeamAction.ALERTS, now,
                          target=organisation.alert_thresholds or "-")
        if before[1] != organisation.monthly_spend_limit:
            events.record(organisation.id, actor, TeamAction.SPEND_LIMIT, now,
                          target=f"{before[1] or '-'} → {organisation.monthly_spend_limit or '-'}")
    organisation.low_credit_notified = None
    levels = refresh_levels(organisation, config, today)
    db.session.flush()
    return levels


# --- who gets them ----------------------------------------------------------------------------

def people(organisation_id: int) -> list[User]:
    """The members alerts go to: the owners, then the billing members (open accounts only)."""
    found = organisations.owners(organisation_id) + organisations.members_with(organisation_id, Role.BILLING)
    return list({person.id: person for person in found}.values())


def recipients(organisation_id: int) -> list[AlertRecipient]:
    """The other addresses, confirmed or waiting for confirmation."""
    return list(db.session.scalars(select(AlertRecipient).where(AlertRecipient.organisation_id == organisation_id)
                                   .order_by(AlertRecipient.id)))


def add_recipient(organisation: Organisation, adder: User, email: str, config, now: datetime) -> AlertRecipient | None:
    """Add an address and e-mail it a confirmation link (in the language of ``adder``, the member
    adding it); alerts go there once it is followed. None when the address is a member's who gets
    the alerts anyway, or already listed. Raises RecipientLimitReached."""
    email = email.strip().lower()
    if email in {person.email.lower() for person in people(organisation.id)}:
        return None
    lock_row(Organisation.__table__, organisation.id)  # concurrent adds of one organisation count one after another
    if len(recipients(organisation.id)) >= MAX_RECIPIENTS:
        raise RecipientLimitReached()
    token = secrets.token_urlsafe(32)
    if not insert_once(AlertRecipient.__table__, organisation_id=organisation.id, email=email,
                       token_hash=hash_token(token), created_at=now):
        return None  # listed already (unique per organisation)
    recipient = db.session.scalar(select(AlertRecipient).where(AlertRecipient.organisation_id == organisation.id,
                                                               AlertRecipient.email == email))
    events.record(organisation.id, adder, TeamAction.ALERTS, now, target=f"+ {email}")
    queue_email(email, "alert_recipient_confirm", adder.locale or config["BABEL_DEFAULT_LOCALE"],
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


def remove_recipient(organisation: Organisation, recipient_id: int, actor: User | None = None) -> bool:
    """Forget one of the other addresses (``actor`` did: the team log says so); whether it was there."""
    found = db.session.scalar(select(AlertRecipient).where(AlertRecipient.id == recipient_id,
                                                           AlertRecipient.organisation_id == organisation.id))
    if found is None:
        return False
    events.record(organisation.id, actor, TeamAction.ALERTS, utcnow(), target=f"- {found.email}")
    db.session.delete(found)
    db.session.flush()
    return True


def send_alert(organisation: Organisation, template: str, config, **context) -> int:
    """Queue an alert about the organisation's money to its owners and billing members, each in
    their language and by their own mail preferences (``user_id``: their unsubscribe link and
    choice), then to its confirmed other addresses, which follow the choice of the organisation's
    first owner (first billing member when it has no owner): their one-click link removes the
    address. Each address once. The number queued."""
    members = people(organisation.id)
    default = config["BABEL_DEFAULT_LOCALE"]
    context = {"organisation": None if organisation.personal else organisation.display_name, **context}
    seen, queued = set(), 0
    for person in members:
        seen.add(person.email.lower())
        queued += queue_email(person.email, template, person.locale or default, user_id=person.id,
                              **context) is not None
    if not members:
        return queued
    sponsor = members[0]
    others = db.session.scalars(select(AlertRecipient.email).where(
        AlertRecipient.organisation_id == organisation.id, AlertRecipient.verified_at.is_not(None))
        .order_by(AlertRecipient.id))
    for address in others:
        if address.lower() not in seen:
            seen.add(address.lower())
            queued += queue_email(address, template, sponsor.locale or default, user_id=sponsor.id,
                                  **context) is not None
    return queued


# --- a key's caps -----------------------------------------------------------------------------

def after_charge_caps(charge: Charge, config, now: datetime) -> bool:
    """E-mail once a period when a charge brings a key to 80 % of its daily or monthly cap; True
    when it wrote to the session."""
    wrote = False
    key = charge.key
    for period, cap, used, start in (("day", key.daily_cap, charge.day_used, now.date()),
                                     ("month", key.monthly_cap, charge.month_used, month_start(now.date()))):
        if crossed_alert(cap, used, charge.price):
            wrote = _cap_alert(key.id, key.organisation_id, period, cap, used, start, config) or wrote
    return wrote


def _cap_alert(key_id: int, organisation_id: int, period: str, cap: int, used: int, start: date, config) -> bool:
    """Claim the period's alert (a conditional update, so concurrent calls send one) and queue it."""
    keys = ApiKey.__table__  # a table update: claiming the alert changes nothing the gateway caches
    column = keys.c.cap_alert_day if period == "day" else keys.c.cap_alert_month
    claimed = db.session.execute(update(keys).where(keys.c.id == key_id, or_(column.is_(None), column < start))
                                 .values({column: start})).rowcount
    if claimed != 1:
        return False
    organisation, key = db.session.get(Organisation, organisation_id), db.session.get(ApiKey, key_id)
    send_alert(organisation, "key_cap_alert", config, name=key.name, prefix=key.prefix, period=period, used=used,
               cap=cap, share=int(CAP_ALERT_SHARE * 100), keys_url=external_url("keys.edit_key", key_id=key.id,
                                                                            org=organisation_id))
    return True
