"""Credit ledger services. Every change of a balance is a ledger row written in the same
transaction as the balance update, so the balance always equals the ledger's sum."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from app.api.metering import balances_changed, get_meter
from app.auth.models import User
from app.billing.models import CreditEntry
from app.database import insert_once
from app.email import external_url, queue_email
from app.extensions import db
from app.timeutil import utcnow


class InsufficientCredits(Exception):
    """The balance is lower than the price; nothing was charged."""

    def __init__(self, balance: int, price: int):
        super().__init__(f"balance {balance} is lower than the price {price}")
        self.balance = balance
        self.price = price


class AlreadyApplied(Exception):
    """A ledger row with this source key exists: the credits were already given or taken."""


def add_credits(user: User, amount: int, kind: str, now: datetime, reason: str | None = None,
                actor=None, source_key: str | None = None) -> CreditEntry:
    """Add (or, for an adjustment, remove) credits with a ledger row. Never takes a balance below 0.

    ``source_key`` names what the change is for (``purchase:<order>``, ``refund:<refund id>``): the
    ledger holds each key once, so a second attempt raises AlreadyApplied and changes nothing.
    """
    if kind not in ("signup_bonus", "purchase", "refund", "adjustment"):
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
        return db.session.scalar(select(CreditEntry).where(CreditEntry.source_key == source_key))
    entry = CreditEntry(**values)
    db.session.add(entry)
    db.session.flush()
    return entry


def _change_balance(user: User, amount: int) -> None:
    """The balance update of add_credits; raises InsufficientCredits rather than go below zero."""
    meter = get_meter()
    if amount < 0 and meter.name == "redis" and meter.take(user.id, -amount, balances_changed(user.id)) is None:
        # Calls charged in Redis are not in the database yet: the spendable balance decides.
        raise InsufficientCredits(meter.balance(user.id), -amount)
    balances_changed(user.id, amount)
    if amount < 0:
        changed = db.session.execute(
            update(User).where(User.id == user.id, User.credit_balance >= -amount)
            .values(credit_balance=User.credit_balance + amount)
        ).rowcount
        if not changed:
            raise InsufficientCredits(current_balance(user.id), -amount)
    else:
        db.session.execute(update(User).where(User.id == user.id).values(credit_balance=User.credit_balance + amount))
        db.session.execute(update(User).where(User.id == user.id).values(low_credit_notified=None))
    db.session.expire(user, ["credit_balance", "low_credit_notified"])


def charge_call(user_id: int, price: int, call_id: str, now: datetime) -> int:
    """Charge ``price`` credits for one API call; return the balance left.

    Atomic: a single conditional UPDATE, so concurrent calls can never take the balance below
    zero; the ledger row's unique call id means a call is never charged twice. Raises
    InsufficientCredits when the balance is short.
    """
    if price <= 0:
        return current_balance(user_id)
    result = db.session.execute(
        update(User).where(User.id == user_id, User.credit_balance >= price)
        .values(credit_balance=User.credit_balance - price)
        .returning(User.credit_balance)
    ).first()
    if result is None:
        raise InsufficientCredits(current_balance(user_id), price)
    db.session.execute(CreditEntry.__table__.insert().values(user_id=user_id, created_at=now, kind="usage",
                                                             amount=-price, call_id=call_id))
    return result[0]


def current_balance(user_id: int) -> int:
    """The balance in the database (with the Redis meter, charges of the last moment may still be on their way)."""
    return db.session.scalar(select(User.credit_balance).where(User.id == user_id)) or 0


def spendable_balance(user_id: int) -> int:
    """What the account can spend now: with the Redis meter, also counting charges not yet written."""
    meter = get_meter()
    if meter.name == "redis":  # Redis sees committed changes only: add this transaction's own
        return meter.balance(user_id) + balances_changed(user_id)
    return meter.balance(user_id)


def database_balance(conn, user_id: int) -> int:
    """The stored balance read on ``conn`` (a connection outside the session's transaction)."""
    return conn.scalar(select(User.credit_balance).where(User.id == user_id)) or 0


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
    from app.billing.models import Order

    given = select(CreditEntry.reason, func.sum(CreditEntry.amount).label("total")) \
        .where(CreditEntry.kind == "purchase").group_by(CreditEntry.reason).subquery()
    expected = db.case((Order.status.in_(("paid", "refunded", "partially_refunded")), Order.credits), else_=0)
    rows = db.session.execute(
        select(Order.reference, expected, func.coalesce(given.c.total, 0))
        .outerjoin(given, given.c.reason == Order.reference)
        .where(Order.user_id.is_not(None), expected != func.coalesce(given.c.total, 0))
    ).all()
    return [(r[0], int(r[1]), int(r[2])) for r in rows]


def check_low_credit(user_id: int, balance: int, config, now: datetime | None = None) -> bool:
    """E-mail the owner when the balance crosses a configured threshold downwards: once per
    crossing (a compare-and-set, so concurrent calls send one), at most one mail per
    LOW_CREDIT_MAIL_MINUTES, and none for thresholds at or above the sign-up bonus until the
    account has bought credits (its first calls would otherwise warn at once). True when queued."""
    now = now or utcnow()
    thresholds = [t for t in config["LOW_CREDIT_THRESHOLDS"] if balance <= t]
    bought = db.session.scalar(select(CreditEntry.id).where(CreditEntry.user_id == user_id,
                                                            CreditEntry.kind == "purchase").limit(1))
    if bought is None:
        thresholds = [t for t in thresholds if t < config["PRICING"].signup_credits]
    if not thresholds:
        return False
    level = min(thresholds)
    quiet_since = now - timedelta(minutes=config["LOW_CREDIT_MAIL_MINUTES"])
    claimed = db.session.execute(update(User).where(
        User.id == user_id,
        db.or_(User.low_credit_notified.is_(None), User.low_credit_notified > level),
        db.or_(User.low_credit_notified_at.is_(None), User.low_credit_notified_at < quiet_since),
    ).values(low_credit_notified=level, low_credit_notified_at=now)).rowcount
    if claimed != 1:
        return False
    user = db.session.get(User, user_id)
    db.session.refresh(user, ["low_credit_notified", "low_credit_notified_at"])
    queue_email(user.email, "low_credits", user.locale or config["BABEL_DEFAULT_LOCALE"], balance=balance,
                pricing_url=external_url("auth.show_dashboard") + "#buy", usage_url=external_url("usage.show_usage"))
    return True


# --- orders and checkout ---------------------------------------------------------------------

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class UnknownPack(ValueError):
    """No credit pack has that id."""


def new_reference() -> str:
    import secrets

    part = lambda: "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4))  # noqa: E731
    return f"ORD-{part()}-{part()}"


def create_order(user: User, pack_id: str, pricing, now: datetime):
    """A pending order for one credit pack (flush only)."""
    from app.billing.models import Order

    pack = pricing.pack(pack_id)
    if pack is None:
        raise UnknownPack(pack_id)
    order = Order(reference=new_reference(), user_id=user.id, pack_id=pack.id, pack_name=str(pack.name),
                  credits=pack.credits, amount_cents=pack.price_cents, currency=pack.currency, created_at=now)
    db.session.add(order)
    db.session.flush()
    return order


def find_order(reference: str, user_id: int | None = None):
    from app.billing.models import Order

    query = select(Order).where(Order.reference == reference)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return db.session.scalar(query)


def orders_of(user_id: int) -> list:
    from app.billing.models import Order

    return list(db.session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id.desc())))


# --- webhooks ------------------------------------------------------------------------------------


def handle_event(event: dict, config, now: datetime) -> str:
    """Apply one verified Stripe event; return what happened (for the log).

    The event id is stored in the same transaction as its effects, so a repeated delivery, even
    a concurrent one, finds it and changes nothing (the unique constraint decides the race).
    Different events for one order are serialised by the order's row lock (PostgreSQL) or the
    write lock this first insert takes (SQLite), and a purchase is credited once whatever the
    events: its ledger row has a unique source key.
    """
    from app.billing.models import WebhookEvent

    event_id, kind = str(event.get("id", ""))[:255], str(event.get("type", ""))[:80]
    data = event.get("data")
    obj = (data.get("object") if isinstance(data, dict) else None) or {}
    if not isinstance(obj, dict):
        return "ignored"
    if not insert_once(WebhookEvent.__table__, event_id=event_id, type=kind, received_at=now, outcome=""):
        return "duplicate"
    record = db.session.scalar(select(WebhookEvent).where(WebhookEvent.event_id == event_id))
    outcome = _apply(kind, obj, record, config, now)
    record.outcome = outcome
    db.session.flush()
    return outcome


def _order_for(obj: dict):
    from app.billing.models import Order

    reference = (obj.get("metadata") or {}).get("order_reference") or obj.get("client_reference_id")
    if reference:
        order = db.session.scalar(select(Order).where(Order.reference == reference).with_for_update())
        if order:
            return order
    if obj.get("object") == "checkout.session" and obj.get("id"):
        order = db.session.scalar(select(Order).where(Order.checkout_session_id == obj["id"]).with_for_update())
        if order:
            return order
    intent = obj.get("payment_intent")
    if intent:
        return db.session.scalar(select(Order).where(Order.payment_intent_id == intent).with_for_update())
    return None


def _apply(kind: str, obj: dict, record, config, now: datetime) -> str:
    if kind.startswith("checkout.session."):
        order = _order_for({**obj, "object": "checkout.session"})
        if order is None:
            return "unknown order"
        record.order_reference = order.reference
        if obj.get("payment_intent") and not order.payment_intent_id:
            order.payment_intent_id = obj["payment_intent"]
        if kind == "checkout.session.completed":
            if obj.get("payment_status") in ("paid", "no_payment_required"):
                return _mark_paid(order, obj, config, now)
            return "awaiting payment"
        if kind == "checkout.session.async_payment_succeeded":
            return _mark_paid(order, obj, config, now)
        if kind == "checkout.session.async_payment_failed":
            return _close(order, "failed")
        if kind == "checkout.session.expired":
            return _close(order, "expired")
        return "ignored"
    if kind in ("charge.refunded", "charge.refund.updated") or kind.startswith("refund."):
        return _refund_event(kind, obj, record, now)
    if kind == "charge.succeeded":  # carries Stripe's receipt link, shown on our receipt page
        order = _order_for({"payment_intent": obj.get("payment_intent"), "metadata": obj.get("metadata") or {}})
        if order is None:
            return "unknown order"
        record.order_reference = order.reference
        order.receipt_url = obj.get("receipt_url") or order.receipt_url
        order.payment_intent_id = order.payment_intent_id or obj.get("payment_intent")
        return "receipt recorded"
    return "ignored"


def _close(order, status: str) -> str:
    if order.status != "pending":
        return f"already {order.status}"
    order.status = status
    return status


def _mark_paid(order, obj: dict, config, now: datetime) -> str:
    if order.status not in ("pending", "failed", "expired"):
        return f"already {order.status}"
    order.status = "paid"
    order.paid_at = now
    if obj.get("receipt_url"):
        order.receipt_url = obj["receipt_url"]
    user = db.session.get(User, order.user_id) if order.user_id else None
    if user is not None:
        try:
            add_credits(user, order.credits, "purchase", now, reason=order.reference,
                        source_key=f"purchase:{order.reference}")
        except AlreadyApplied:
            return "already credited"
    # A refund that arrived before the payment was confirmed is applied now.
    from app.billing.models import WebhookEvent

    if order.payment_intent_id:
        early = db.session.scalar(select(func.max(WebhookEvent.refunded_cents)).where(
            WebhookEvent.payment_intent_id == order.payment_intent_id))
        order.charge_refunded_cents = max(order.charge_refunded_cents, early or 0)
    settle_refunds(order, now)
    return "paid"


def _refund_event(kind: str, obj: dict, record, now: datetime) -> str:
    """``charge.refunded`` (a charge with its cumulative ``amount_refunded``, perhaps its refunds)
    and ``refund.*`` / ``charge.refund.updated`` (one refund with its status)."""
    order = _order_for({"payment_intent": obj.get("payment_intent"), "metadata": obj.get("metadata") or {}})
    if order is None:
        # Not known yet: remember the amount; _mark_paid applies it when the payment completes.
        record.payment_intent_id = obj.get("payment_intent")
        if obj.get("object") == "charge":
            record.refunded_cents = _cents(obj.get("amount_refunded"))
        else:
            record.refunded_cents = _cents(obj.get("amount")) if obj.get("status") == "succeeded" else 0
        return "refund recorded before payment"
    record.order_reference = order.reference
    if not order.payment_intent_id and obj.get("payment_intent"):
        order.payment_intent_id = obj["payment_intent"]
    if obj.get("object") == "charge":
        order.charge_refunded_cents = max(order.charge_refunded_cents, _cents(obj.get("amount_refunded")))
        listed = (obj.get("refunds") or {}).get("data") if isinstance(obj.get("refunds"), dict) else None
        for refund in listed if isinstance(listed, list) else []:
            if isinstance(refund, dict):
                _record_refund(order, refund, now)
    else:
        _record_refund(order, obj, now)
    if order.status == "pending":
        return "refund recorded before payment"
    return settle_refunds(order, now)


def _cents(value) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _record_refund(order, obj: dict, now: datetime) -> None:
    """Store or update one refund by its id. A refund that had succeeded and then failed (or was
    canceled) no longer counts, and neither does its share of the charge's cumulative amount."""
    from app.billing.models import REFUND_STATUSES, Refund

    refund_id = str(obj.get("id") or "")[:255]
    status = str(obj.get("status") or "")
    if not refund_id or status not in REFUND_STATUSES:
        return
    amount = _cents(obj.get("amount"))
    insert_once(Refund.__table__, refund_id=refund_id, order_id=order.id, amount_cents=amount, status=status,
                created_at=now, updated_at=now)
    refund = db.session.scalar(select(Refund).where(Refund.refund_id == refund_id))
    if refund.status == "succeeded" and status in ("failed", "canceled"):
        order.charge_refunded_cents = max(0, order.charge_refunded_cents - refund.amount_cents)
    if refund.status != status or refund.amount_cents != amount:
        refund.status, refund.amount_cents, refund.updated_at = status, amount, now
    db.session.flush()


def settle_refunds(order, now: datetime) -> str:
    """Bring the order and the buyer's credits in line with what is refunded now.

    Refunded: the succeeded refunds, or the charge's cumulative amount if that is higher (refunds
    it covers may not have arrived one by one), at most the order's amount. The credits of the
    refunded share are taken back, never below zero (what was already spent is the shortfall);
    when a refund fails, they are given back and the order's state restored. Idempotent.
    """
    import math

    from app.billing.models import Refund

    succeeded = db.session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
        Refund.order_id == order.id, Refund.status == "succeeded")) or 0
    refunded = min(order.amount_cents, max(int(succeeded), order.charge_refunded_cents))
    order.refunded_cents = refunded
    if order.status in ("paid", "refunded", "partially_refunded"):
        order.status = ("paid" if refunded == 0 else
                        "refunded" if refunded >= order.amount_cents else "partially_refunded")
    owed = min(order.credits, math.ceil(order.credits * refunded / order.amount_cents)) if order.amount_cents else 0
    delta = owed - order.credits_reversed
    order.credits_reversed = owed
    user = db.session.get(User, order.user_id) if order.user_id else None
    if delta > 0:
        take = min(delta, spendable_balance(user.id)) if user else 0
        if take:
            add_credits(user, -take, "refund", now, reason=order.reference)
        order.credit_shortfall += delta - take
    elif delta < 0:
        back = -delta
        forgiven = min(back, order.credit_shortfall)  # credits never taken need no giving back
        order.credit_shortfall -= forgiven
        if user is not None and back - forgiven:
            add_credits(user, back - forgiven, "refund", now, reason=f"{order.reference}: refund failed")
    return order.status


def demo_event(kind: str, order, now: datetime, **fields) -> str:
    """A Stripe-shaped event for the demo checkout, as JSON text. Its id is fixed per session and
    kind, so pressing Pay twice delivers the same event twice (and the second changes nothing)."""
    import json

    if kind == "charge.refunded":
        obj = {"object": "charge", "id": f"ch_demo_{order.reference}", "payment_intent": order.payment_intent_id,
               "amount": order.amount_cents, "amount_refunded": fields["amount_refunded"],
               "metadata": {"order_reference": order.reference}}
        event_id = f"evt_demo_{order.reference}_refund_{fields['amount_refunded']}"
    else:
        obj = {"object": "checkout.session", "id": order.checkout_session_id, "client_reference_id": order.reference,
               "metadata": {"order_reference": order.reference}, "amount_total": order.amount_cents,
               "currency": order.currency.lower(), "payment_status": fields.get("payment_status", "paid"),
               "payment_intent": f"pi_demo_{order.reference}"}
        event_id = f"evt_demo_{order.checkout_session_id}_{kind.rsplit('.', 1)[-1]}"
    return json.dumps({"id": event_id, "object": "event", "type": kind, "livemode": False,
                       "created": int(now.timestamp()), "data": {"object": obj}})
