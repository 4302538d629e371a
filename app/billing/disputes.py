"""Disputes (chargebacks and inquiries) from Stripe's ``charge.dispute.*`` events. No request, no commit.

Each dispute is one row keyed on Stripe's id, whichever event brings it first: ``created``,
``updated`` and ``closed`` may arrive in any order and more than once. A closed status (won, lost,
an inquiry closed) is final: a late ``created`` does not reopen it.

Credits: while a dispute is open, the credits its amount bought are held (taken from the balance,
below zero if they were spent: the one place a balance may go negative). Won or an inquiry closed:
they are given back. Lost: they stay removed. The dispute's ``credits_held`` is the tally, changed
under the order's row lock (PostgreSQL) or the write lock of the event's first insert (SQLite),
so concurrent deliveries hold the credits once.

Billing staff are told by mail, through the outbox (sent once the transaction commits), when a
dispute is first recorded and when it closes; the staff console lists the open ones.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import func, select

from app.auth.models import User, UserRole
from app.billing.models import (
    DISPUTE_CLOSED,
    DISPUTE_OPEN,
    DISPUTE_STATUSES,
    DISPUTE_TRANSITIONS,
    Dispute,
    DisputeStatus,
    Order,
)
from app.billing.services import hold_for_dispute
from app.database import insert_once
from app.email import external_url, queue_email
from app.extensions import db
from app.organisations.models import Organisation

STAFF_ROLES = ("billing", "admin")


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _cents(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _when(value) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 32_503_680_000:
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    return None


def charge_of(obj: dict) -> str:
    """The charge a dispute names: an id, or the charge object when expanded."""
    charge = obj.get("charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    return _text(charge, 255)


def record(obj: dict, order: Order | None, now: datetime) -> str:
    """Apply one dispute object (``charge.dispute.created`` / ``updated`` / ``closed`` /
    ``funds_withdrawn`` / ``funds_reinstated``); what happened, for the log. Idempotent."""
    dispute_id, status = _text(obj.get("id"), 255), obj.get("status")
    if not dispute_id or status not in DISPUTE_STATUSES:
        return "ignored"
    inserted = insert_once(
        Dispute.__table__, dispute_id=dispute_id, order_id=order.id if order else None,
        charge_id=charge_of(obj) or None,
        payment_intent_id=_text(obj.get("payment_intent"), 255) or None, amount_cents=_cents(obj.get("amount")),
        currency=_text(obj.get("currency"), 3).upper() or (order.currency if order else ""),
        reason=_text(obj.get("reason"), 40) or "general", status=status, credits_held=0,
        disputed_at=_when(obj.get("created")), received_at=now, updated_at=now,
        closed_at=now if status in DISPUTE_CLOSED else None)
    dispute = db.session.scalar(select(Dispute).where(Dispute.dispute_id == dispute_id).with_for_update())
    if dispute.order_id is None and order is not None:
        dispute.order_id = order.id
    closed_now = False
    if not inserted and dispute.is_open:  # a closed status is final (DISPUTE_TRANSITIONS)
        if status != dispute.status:
            dispute.status, dispute.updated_at = DISPUTE_TRANSITIONS.check(dispute.status, status), now
        dispute.amount_cents = _cents(obj.get("amount")) or dispute.amount_cents
        dispute.reason = _text(obj.get("reason"), 40) or dispute.reason
        if status in DISPUTE_CLOSED:
            dispute.closed_at, closed_now = now, True
    order = order or (db.session.get(Order, dispute.order_id) if dispute.order_id else None)
    settle(dispute, order, now)
    if inserted or closed_now:
        _tell_staff(dispute, order, opened=inserted)
    if order is None:
        return "dispute for unknown order"
    return "dispute held" if dispute.is_open else f"dispute {dispute.status}"


def disputed_credits(order: Order, amount_cents: int) -> int:
    """The credits the disputed share of the order's price bought (those refunds did not take back)."""
    if not order.amount_cents:
        return 0
    share = math.ceil(order.credits * min(amount_cents, order.amount_cents) / order.amount_cents)
    return max(0, min(share, order.credits - order.credits_reversed))


def settle(dispute: Dispute, order: Order | None, now: datetime) -> None:
    """Bring the buying organisation's balance in line with the dispute's state: hold while open,
    keep removed when lost, give back when won (or the inquiry closed). Idempotent."""
    organisation = (db.session.get(Organisation, order.organisation_id)
                    if order is not None and order.organisation_id else None)
    target = 0
    if organisation is not None and (dispute.is_open or dispute.status == DisputeStatus.LOST):
        target = disputed_credits(order, dispute.amount_cents)
    change = target - dispute.credits_held
    if change and organisation is not None:
        what = "held" if change > 0 else "released"
        hold_for_dispute(organisation, -change, now, f"{order.reference}: dispute {dispute.dispute_id} {what}")
    dispute.credits_held = target if organisation is not None else 0
    db.session.flush()


def attach_by_charge(order: Order, now: datetime) -> None:
    """Disputes recorded before the order's charge was known: link them and settle."""
    if not order.charge_id:
        return
    waiting = db.session.scalars(select(Dispute).where(Dispute.charge_id == order.charge_id,
                                                       Dispute.order_id.is_(None)).with_for_update())
    for dispute in waiting:
        dispute.order_id = order.id
        settle(dispute, order, now)


def blocks_refund(order: Order) -> bool:
    """An open or lost dispute: the money is with the bank, a refund would pay it twice."""
    return db.session.scalar(select(select(Dispute.id).where(
        Dispute.order_id == order.id, Dispute.status.in_(DISPUTE_OPEN + (DisputeStatus.LOST,))).exists())) or False


def of_order(order: Order) -> list[Dispute]:
    return list(db.session.scalars(select(Dispute).where(Dispute.order_id == order.id).order_by(Dispute.id)))


def of_orders(order_ids: list[int]) -> dict[int, Dispute]:
    """The newest dispute of each of these orders."""
    found: dict[int, Dispute] = {}
    if order_ids:
        for dispute in db.session.scalars(select(Dispute).where(Dispute.order_id.in_(order_ids)).order_by(Dispute.id)):
            found[dispute.order_id] = dispute
    return found


def open_disputes(limit: int = 100) -> list[tuple[Dispute, Order | None]]:
    """Open disputes, the oldest first, with their orders (None: a payment not known here)."""
    return list(db.session.execute(
        select(Dispute, Order).outerjoin(Order, Order.id == Dispute.order_id)
        .where(Dispute.status.in_(DISPUTE_OPEN)).order_by(Dispute.id).limit(limit)).tuples())


def open_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Dispute).where(Dispute.status.in_(DISPUTE_OPEN))) or 0


def _tell_staff(dispute: Dispute, order: Order | None, opened: bool) -> None:
    staff = db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role.in_(STAFF_ROLES), User.suspended_at.is_(None), User.erased_at.is_(None)).distinct())
    reference = order.reference if order is not None else None
    url = (external_url("staff.show_order", reference=reference) if reference
           else external_url("staff.list_orders") + "#disputes")
    for member in staff:
        queue_email(member.email, "dispute_opened" if opened else "dispute_closed",
                    member.locale or current_app.config["BABEL_DEFAULT_LOCALE"], reference=reference,
                    dispute_id=dispute.dispute_id, status=dispute.status, reason=dispute.reason,
                    amount_cents=dispute.amount_cents, currency=dispute.currency or "USD",
                    credits=dispute.credits_held, closed=dispute.status in DISPUTE_CLOSED, order_url=url)
