"""Credit ledger services. Every change of a balance is a ledger row written in the same
transaction as the balance update, so the balance always equals the ledger's sum."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import delete, func, select, update

from app import references
from app.auth.models import User
from app.billing import alerts, details
from app.billing.models import ORDER_TRANSITIONS, PAID_STATUSES, CreditEntry, CreditKind, Order, OrderStatus
from app.database import insert_once
from app.email import external_url
from app.extensions import db
from app.metering import services as metering
from app.metering.hooks import balances_changed, on_charge, uncommitted_change
from app.metering.types import Charge, InsufficientCredits  # raised by add_credits: one type for every short balance
from app.organisations import events
from app.organisations import services as organisations
from app.organisations.models import Organisation, TeamAction
from app.timeutil import utcnow


class AlreadyApplied(Exception):
    """A ledger row with this source key exists: the credits were already given or taken."""


def add_credits(organisation: Organisation, amount: int, kind: CreditKind, now: datetime, reason: str | None = None,
                actor=None, source_key: str | None = None) -> CreditEntry:
    """Add (or, for an adjustment, remove) credits of the organisation with a ledger row. Never
    takes a balance below 0. ``actor``: the person who made the change (staff), if any.

    ``source_key`` names what the change is for (``purchase:<order>``, ``refund:<refund id>``): the
    ledger holds each key once, so a second attempt raises AlreadyApplied and changes nothing.
    """
    if kind not in (CreditKind.SIGNUP_BONUS, CreditKind.PURCHASE, CreditKind.REFUND, CreditKind.ADJUSTMENT):
        raise ValueError(f"unknown credit entry kind {kind!r}")
    values = {"organisation_id": organisation.id, "created_at": now, "kind": kind, "amount": amount,
              "reason": reason, "actor_id": actor.id if actor else None, "source_key": source_key}
    if source_key is not None and not insert_once(CreditEntry.__table__, **values):
        raise AlreadyApplied(source_key)
    try:
        _change_balance(organisation, amount)
    except InsufficientCredits:
        if source_key is not None:
            db.session.execute(delete(CreditEntry).where(CreditEntry.source_key == source_key))
        raise
    if source_key is not None:
        entry = db.session.scalar(select(CreditEntry).where(CreditEntry.source_key == source_key))
    else:
        entry = CreditEntry(**values)
        db.session.add(entry)
        db.session.flush()
    if amount > 0:  # a top-up re-arms the alerts, at levels that count it (a share of a purchase)
        alerts.refresh_levels(organisation, current_app.config, now.date())
        db.session.flush()
    return entry


def hold_for_dispute(organisation: Organisation, amount: int, now: datetime, reason: str) -> CreditEntry:
    """Take (negative ``amount``) or give back credits for a payment the buyer disputed, with a
    ledger row of kind ``dispute``. The one change allowed to take a balance below zero: the
    credits were bought with money the bank is taking back, and a balance below zero stops the
    organisation's API calls until it is settled. Callers keep their own tally (the dispute's
    ``credits_held``) under the order's lock, so this runs once per change."""
    entry = CreditEntry(organisation_id=organisation.id, created_at=now, kind=CreditKind.DISPUTE, amount=amount,
                        reason=reason[:200])
    db.session.add(entry)
    balances_changed(organisation.id, amount)
    db.session.execute(update(Organisation).where(Organisation.id == organisation.id)
                       .values(credit_balance=Organisation.credit_balance + amount))
    db.session.flush()
    db.session.expire(organisation, ["credit_balance"])
    return entry


def _change_balance(organisation: Organisation, amount: int) -> None:
    """The balance update of add_credits; raises InsufficientCredits rather than go below zero."""
    org_id = organisation.id
    meter = metering.get_meter()
    if amount < 0 and meter.name == "redis" and meter.take(org_id, -amount, uncommitted_change(org_id)) is None:
        # Calls charged in Redis are not in the database yet: the spendable balance decides.
        raise InsufficientCredits(meter.balance(org_id), -amount)
    balances_changed(org_id, amount)
    if amount < 0:
        changed = db.session.execute(
            update(Organisation).where(Organisation.id == org_id, Organisation.credit_balance >= -amount)
            .values(credit_balance=Organisation.credit_balance + amount)
        ).rowcount
        if not changed:
            raise InsufficientCredits(metering.balance(org_id, spendable=False), -amount)
    else:
        db.session.execute(update(Organisation).where(Organisation.id == org_id)
                           .values(credit_balance=Organisation.credit_balance + amount, low_credit_notified=None))
    db.session.expire(organisation, ["credit_balance", "low_credit_notified"])


def ledger(organisation_id: int, limit: int = 100) -> list[CreditEntry]:
    return list(db.session.scalars(select(CreditEntry).where(CreditEntry.organisation_id == organisation_id)
                                   .order_by(CreditEntry.id.desc()).limit(limit)))


def verify_balances() -> list[tuple[int, str, int, int]]:
    """Organisations whose balance differs from their ledger's sum: (id, name, balance, ledger sum);
    a personal organisation is named by its owners' e-mail addresses."""
    sums = select(CreditEntry.organisation_id, func.coalesce(func.sum(CreditEntry.amount), 0).label("total")) \
        .group_by(CreditEntry.organisation_id).subquery()
    rows = db.session.execute(
        select(Organisation, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.organisation_id == Organisation.id)
        .where(Organisation.credit_balance != func.coalesce(sums.c.total, 0))
    ).all()
    return [(org.id, _name_of(org), org.credit_balance, int(total)) for org, total in rows]


def _name_of(organisation: Organisation) -> str:
    if organisation.name:
        return organisation.name
    return ", ".join(u.email for u in organisations.owners(organisation.id)) or "(personal, no owner)"


def verify_orders() -> list[tuple[str, int, int]]:
    """Orders credited other than once: (reference, credits of the order, credits the ledger gave).

    A paid (or later refunded) order must have given exactly its credits in purchase entries;
    any other order none.
    """
    given = select(CreditEntry.reason, func.sum(CreditEntry.amount).label("total")) \
        .where(CreditEntry.kind == CreditKind.PURCHASE).group_by(CreditEntry.reason).subquery()
    expected = db.case((Order.status.in_(PAID_STATUSES), Order.credits), else_=0)
    rows = db.session.execute(
        select(Order.reference, expected, func.coalesce(given.c.total, 0))
        .outerjoin(given, given.c.reason == Order.reference)
        .where(Order.organisation_id.is_not(None), expected != func.coalesce(given.c.total, 0))
    ).all()
    return [(r[0], int(r[1]), int(r[2])) for r in rows]


def register_low_credit_mail(app) -> None:
    """The usage alerts follow charges: metering calls them after each (see metering.hooks)."""
    on_charge(app, _after_charge)


def _after_charge(charge: Charge) -> bool:
    """Only a charge that crossed a balance threshold or 80 % of a key's cap costs a database
    write (True then)."""
    config = current_app.config
    wrote = False
    if any(charge.after <= t < charge.before for t in charge.key.alert_levels):
        check_low_credit(charge.key.organisation_id, charge.after, config)
        wrote = True
    if charge.key.daily_cap or charge.key.monthly_cap:
        wrote = alerts.after_charge_caps(charge, config, utcnow()) or wrote
    return wrote


def check_low_credit(organisation_id: int, balance: int, config, now: datetime | None = None) -> bool:
    """E-mail the organisation's alert recipients (``alerts.send_alert``) when the balance crosses
    one of its thresholds downwards: once per crossing (a compare-and-set, so concurrent calls send
    one), re-armed by a top-up; at most one mail per LOW_CREDIT_MAIL_MINUTES when set, and none for
    thresholds at or above the sign-up bonus until the organisation has bought credits (its first
    calls would otherwise warn at once). True when the crossing was claimed."""
    now = now or utcnow()
    organisation = db.session.get(Organisation, organisation_id)
    levels = [int(v) for v in (organisation.alert_levels or "").split(",") if v]
    thresholds = [t for t in levels if balance <= t]
    bought = db.session.scalar(select(CreditEntry.id).where(CreditEntry.organisation_id == organisation_id,
                                                            CreditEntry.kind == CreditKind.PURCHASE).limit(1))
    if bought is None:
        thresholds = [t for t in thresholds if t < config["PRICING"].signup_credits]
    if not thresholds:
        return False
    level = min(thresholds)
    conditions = [Organisation.id == organisation_id,
                  db.or_(Organisation.low_credit_notified.is_(None), Organisation.low_credit_notified > level)]
    if config["LOW_CREDIT_MAIL_MINUTES"]:
        quiet_since = now - timedelta(minutes=config["LOW_CREDIT_MAIL_MINUTES"])
        conditions.append(db.or_(Organisation.low_credit_notified_at.is_(None),
                                 Organisation.low_credit_notified_at < quiet_since))
    claimed = db.session.execute(update(Organisation).where(*conditions)
                                 .values(low_credit_notified=level, low_credit_notified_at=now)).rowcount
    if claimed != 1:
        return False
    db.session.refresh(organisation, ["low_credit_notified", "low_credit_notified_at"])
    alerts.send_alert(organisation, "low_credits", config, balance=balance, threshold=level,
                      pricing_url=external_url("account.show_dashboard", org=organisation.id) + "#buy",
                      usage_url=external_url("usage.show_usage", org=organisation.id),
                      alerts_url=external_url("billing.show_alerts", org=organisation.id))
    return True


# --- orders and checkout ---------------------------------------------------------------------

class UnknownPack(ValueError):
    """No credit pack has that id."""


def new_reference() -> str:
    return references.new_reference("ORD", 4, 4)


def create_order(organisation: Organisation, buyer: User, pack_id: str, pricing, now: datetime,
                 country: str | None = None):
    """A pending order of the organisation for one credit pack, placed by ``buyer`` (a member),
    with the organisation's billing details and its tax, for the buyer's ``country`` (default: the
    one in the billing details) (flush only)."""
    pack = pricing.pack(pack_id)
    if pack is None:
        raise UnknownPack(pack_id)
    with force_locale("en"):  # the record keeps the English name; pages show it in the reader's language
        stored_name = str(pack.name)
    order = Order(reference=new_reference(), organisation_id=organisation.id, placed_by_id=buyer.id, pack_id=pack.id,
                  pack_name=stored_name, credits=pack.credits, amount_cents=pack.price_cents, currency=pack.currency,
                  created_at=now, expires_at=now + timedelta(minutes=current_app.config["CHECKOUT_EXPIRY_MINUTES"]))
    details.apply_to_order(order, organisation.id, current_app.config, country)
    db.session.add(order)
    db.session.flush()
    events.record(organisation.id, buyer, TeamAction.ORDER_CREATE, now, target=f"{order.reference}: {stored_name}")
    return order


def expire_orders(now: datetime) -> int:
    """Mark expired the pending orders whose checkout session stopped taking payment (one
    statement; a payment Stripe still reports later is credited all the same). The number marked."""
    expired = ORDER_TRANSITIONS.check(OrderStatus.PENDING, OrderStatus.EXPIRED)
    return db.session.execute(update(Order).where(Order.status == OrderStatus.PENDING, Order.expires_at.is_not(None),
                                                  Order.expires_at < now).values(status=expired)).rowcount


def find_order(reference: str, organisation_id: int | None = None):
    """An order by reference; with ``organisation_id``, only one of that organisation's."""
    query = select(Order).where(Order.reference == reference)
    if organisation_id is not None:
        query = query.where(Order.organisation_id == organisation_id)
    return db.session.scalar(query)


def order_for_checkout(session_id: str, organisation_id: int) -> Order | None:
    """The organisation's order of a checkout session (another organisation's: None)."""
    return db.session.scalar(select(Order).where(Order.checkout_session_id == session_id,
                                                 Order.organisation_id == organisation_id))


def orders_of(organisation_id: int) -> list:
    return list(db.session.scalars(select(Order).where(Order.organisation_id == organisation_id)
                                   .order_by(Order.id.desc())))


def has_paid_order(organisation_id: int) -> bool:
    """Whether the organisation has ever bought credits."""
    return bool(db.session.scalar(select(select(Order.id).where(Order.organisation_id == organisation_id,
                                                                Order.paid_at.is_not(None)).exists())))
