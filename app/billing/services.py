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
from app.email import external_url, queue_email
from app.extensions import db
from app.metering import services as metering
from app.metering.hooks import balances_changed, on_charge, uncommitted_change
from app.metering.types import Charge, InsufficientCredits  # raised by add_credits: one type for every short balance
from app.timeutil import utcnow


class AlreadyApplied(Exception):
    """A ledger row with this source key exists: the credits were already given or taken."""


def add_credits(user: User, amount: int, kind: CreditKind, now: datetime, reason: str | None = None,
                actor=None, source_key: str | None = None) -> CreditEntry:
    """Add (or, for an adjustment, remove) credits with a ledger row. Never takes a balance below 0.

    ``source_key`` names what the change is for (``purchase:<order>``, ``refund:<refund id>``): the
    ledger holds each key once, so a second attempt raises AlreadyApplied and changes nothing.
    """
    if kind not in (CreditKind.SIGNUP_BONUS, CreditKind.PURCHASE, CreditKind.REFUND, CreditKind.ADJUSTMENT):
        raise ValueError(f"unknown credit entry kind {kind!r}")
    values = {"user_id": user.id, "created_at": now, "kind": kind, "amount": amount, "reason": reason,
              "actor_id": actor.id if actor else None, "source_key": source_key}
    if source_key is not None and not insert_once(CreditEntry.__table__, **values):
        raise AlreadyApplied(source_key)
    try:
        _change_balance(user, amount)
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
        alerts.refresh_levels(user, current_app.config, now.date())
        db.session.flush()
    return entry


def hold_for_dispute(user: User, amount: int, now: datetime, reason: str) -> CreditEntry:
    """Take (negative ``amount``) or give back credits for a payment the buyer disputed, with a
    ledger row of kind ``dispute``. The one change allowed to take a balance below zero: the
    credits were bought with money the bank is taking back, and a balance below zero stops the
    account's API calls until it is settled. Callers keep their own tally (the dispute's
    ``credits_held``) under the order's lock, so this runs once per change."""
    entry = CreditEntry(user_id=user.id, created_at=now, kind=CreditKind.DISPUTE, amount=amount, reason=reason[:200])
    db.session.add(entry)
    balances_changed(user.id, amount)
    db.session.execute(update(User).where(User.id == user.id).values(credit_balance=User.credit_balance + amount))
    db.session.flush()
    db.session.expire(user, ["credit_balance"])
    return entry


def _change_balance(user: User, amount: int) -> None:
    """The balance update of add_credits; raises InsufficientCredits rather than go below zero."""
    meter = metering.get_meter()
    if amount < 0 and meter.name == "redis" and meter.take(user.id, -amount, uncommitted_change(user.id)) is None:
        # Calls charged in Redis are not in the database yet: the spendable balance decides.
        raise InsufficientCredits(meter.balance(user.id), -amount)
    balances_changed(user.id, amount)
    if amount < 0:
        changed = db.session.execute(
            update(User).where(User.id == user.id, User.credit_balance >= -amount)
            .values(credit_balance=User.credit_balance + amount)
        ).rowcount
        if not changed:
            raise InsufficientCredits(metering.balance(user.id, spendable=False), -amount)
    else:
        db.session.execute(update(User).where(User.id == user.id).values(credit_balance=User.credit_balance + amount))
        db.session.execute(update(User).where(User.id == user.id).values(low_credit_notified=None))
    db.session.expire(user, ["credit_balance", "low_credit_notified"])


def ledger(user_id: int, limit: int = 100) -> list[CreditEntry]:
    return list(db.session.scalars(select(CreditEntry).where(CreditEntry.user_id == user_id)
                                   .order_by(CreditEntry.id.desc()).limit(limit)))


def verify_balances() -> list[tuple[int, str, int, int]]:
    """Accounts whose balance differs from their ledger's sum: (id, e-mail, balance, ledger sum)."""
    sums = select(CreditEntry.user_id, func.coalesce(func.sum(CreditEntry.amount), 0).label("total")) \
        .group_by(CreditEntry.user_id).subquery()
    rows = db.session.execute(
        select(User.id, User.email, User.credit_balance, func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.user_id == User.id)
        .where(User.credit_balance != func.coalesce(sums.c.total, 0))
    ).all()
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


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
        .where(Order.user_id.is_not(None), expected != func.coalesce(given.c.total, 0))
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
        check_low_credit(charge.key.user_id, charge.after, config)
        wrote = True
    if charge.key.daily_cap or charge.key.monthly_cap:
        wrote = alerts.after_charge_caps(charge, config, utcnow()) or wrote
    return wrote


def check_low_credit(user_id: int, balance: int, config, now: datetime | None = None) -> bool:
    """E-mail the account's alert addresses when the balance crosses one of its thresholds
    downwards: once per crossing (a compare-and-set, so concurrent calls send one), re-armed by a
    top-up; at most one mail per LOW_CREDIT_MAIL_MINUTES when set, and none for thresholds at or
    above the sign-up bonus until the account has bought credits (its first calls would otherwise
    warn at once). True when queued."""
    now = now or utcnow()
    user = db.session.get(User, user_id)
    levels = [int(v) for v in (user.alert_levels or "").split(",") if v]
    thresholds = [t for t in levels if balance <= t]
    bought = db.session.scalar(select(CreditEntry.id).where(CreditEntry.user_id == user_id,
                                                            CreditEntry.kind == CreditKind.PURCHASE).limit(1))
    if bought is None:
        thresholds = [t for t in thresholds if t < config["PRICING"].signup_credits]
    if not thresholds:
        return False
    level = min(thresholds)
    conditions = [User.id == user_id, db.or_(User.low_credit_notified.is_(None), User.low_credit_notified > level)]
    if config["LOW_CREDIT_MAIL_MINUTES"]:
        quiet_since = now - timedelta(minutes=config["LOW_CREDIT_MAIL_MINUTES"])
        conditions.append(db.or_(User.low_credit_notified_at.is_(None), User.low_credit_notified_at < quiet_since))
    claimed = db.session.execute(update(User).where(*conditions)
                                 .values(low_credit_notified=level, low_credit_notified_at=now)).rowcount
    if claimed != 1:
        return False
    db.session.refresh(user, ["low_credit_notified", "low_credit_notified_at"])
    for address in alerts.alert_addresses(user):
        queue_email(address, "low_credits", user.locale or config["BABEL_DEFAULT_LOCALE"], user_id=user.id,
                    balance=balance,
                    threshold=level, pricing_url=external_url("account.show_dashboard") + "#buy",
                    usage_url=external_url("usage.show_usage"), alerts_url=external_url("billing.show_alerts"))
    return True


# --- orders and checkout ---------------------------------------------------------------------

class UnknownPack(ValueError):
    """No credit pack has that id."""


def new_reference() -> str:
    return references.new_reference("ORD", 4, 4)


def create_order(user: User, pack_id: str, pricing, now: datetime, country: str | None = None):
    """A pending order for one credit pack, with the buyer's billing details and its tax, for the
    buyer's ``country`` (default: the one in their billing details) (flush only)."""
    pack = pricing.pack(pack_id)
    if pack is None:
        raise UnknownPack(pack_id)
    with force_locale("en"):  # the record keeps the English name; pages show it in the reader's language
        stored_name = str(pack.name)
    order = Order(reference=new_reference(), user_id=user.id, pack_id=pack.id, pack_name=stored_name,
                  credits=pack.credits, amount_cents=pack.price_cents, currency=pack.currency, created_at=now,
                  expires_at=now + timedelta(minutes=current_app.config["CHECKOUT_EXPIRY_MINUTES"]))
    details.apply_to_order(order, user.id, current_app.config, country)
    db.session.add(order)
    db.session.flush()
    return order


def expire_orders(now: datetime) -> int:
    """Mark expired the pending orders whose checkout session stopped taking payment (one
    statement; a payment Stripe still reports later is credited all the same). The number marked."""
    expired = ORDER_TRANSITIONS.check(OrderStatus.PENDING, OrderStatus.EXPIRED)
    return db.session.execute(update(Order).where(Order.status == OrderStatus.PENDING, Order.expires_at.is_not(None),
                                                  Order.expires_at < now).values(status=expired)).rowcount


def find_order(reference: str, user_id: int | None = None):
    query = select(Order).where(Order.reference == reference)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return db.session.scalar(query)


def order_for_checkout(session_id: str, user_id: int) -> Order | None:
    """The user's order of a checkout session (another user's: None)."""
    return db.session.scalar(select(Order).where(Order.checkout_session_id == session_id, Order.user_id == user_id))


def orders_of(user_id: int) -> list:
    return list(db.session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id.desc())))


def has_paid_order(user_id: int) -> bool:
    """Whether the account has ever bought credits."""
    return bool(db.session.scalar(select(select(Order.id).where(Order.user_id == user_id,
                                                                Order.paid_at.is_not(None)).exists())))
