"""Stripe's events, applied once: payments credited once, refunds keyed on their own id (a failed
one voids its credit note), disputes keyed on theirs (``billing.disputes``).

``handle_event`` is called by the webhook view (and the demo checkout, through the same view);
``demo_event`` builds the Stripe-shaped events the demo checkout and demo refunds send.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from sqlalchemy import func, select

from app.auth.models import User
from app.billing import details, disputes, invoices, notices
from app.billing.models import (
    ORDER_TRANSITIONS,
    PAID_STATUSES,
    REFUND_STATUSES,
    REFUND_TRANSITIONS,
    CreditKind,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from app.billing.services import AlreadyApplied, add_credits
from app.database import insert_once
from app.extensions import db
from app.metering import services as metering
from app.organisations import events
from app.organisations.models import Organisation, TeamAction


def handle_event(event: dict, config, now: datetime) -> str:
    """Apply one verified Stripe event; return what happened (for the log).

    The event id is stored in the same transaction as its effects, so a repeated delivery, even
    a concurrent one, finds it and changes nothing (the unique constraint decides the race).
    Different events for one order are serialised by the order's row lock (PostgreSQL) or the
    write lock this first insert takes (SQLite), and a purchase is credited once whatever the
    events: its ledger row has a unique source key.
    """
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
        details.confirm(order, obj.get("customer_details"), config)  # the confirmed address sets the tax
        if kind == "checkout.session.completed":
            if obj.get("payment_status") in ("paid", "no_payment_required"):
                return _mark_paid(order, obj, config, now)
            return "awaiting payment"
        if kind == "checkout.session.async_payment_succeeded":
            return _mark_paid(order, obj, config, now)
        if kind == "checkout.session.async_payment_failed":
            outcome = _close(order, OrderStatus.FAILED)
            if outcome == OrderStatus.FAILED:
                notices.payment_failed(order)
            return outcome
        if kind == "checkout.session.expired":
            return _close(order, OrderStatus.EXPIRED)
        return "ignored"
    if kind in ("charge.refunded", "charge.refund.updated") or kind.startswith("refund."):
        return _refund_event(kind, obj, record, now)
    if kind.startswith("charge.dispute."):
        order = _dispute_order(obj)
        if order is not None:
            record.order_reference = order.reference
        return disputes.record(obj, order, now)
    if kind == "charge.succeeded":  # carries Stripe's receipt link, shown on our receipt page
        order = _order_for({"payment_intent": obj.get("payment_intent"), "metadata": obj.get("metadata") or {}})
        if order is None:
            return "unknown order"
        record.order_reference = order.reference
        order.receipt_url = obj.get("receipt_url") or order.receipt_url
        order.payment_intent_id = order.payment_intent_id or obj.get("payment_intent")
        _store_charge(order, obj, now)
        return "receipt recorded"
    return "ignored"


def _store_charge(order, obj: dict, now: datetime) -> None:
    """Remember the order's charge id (a dispute may name only the charge), and settle the
    disputes that arrived before it was known."""
    charge_id = obj.get("id") if obj.get("object") == "charge" else obj.get("charge")
    if isinstance(charge_id, str) and charge_id and not order.charge_id:
        order.charge_id = charge_id[:255]
        disputes.attach_by_charge(order, now)


def _dispute_order(obj: dict):
    """The order a dispute is about: by its payment intent, else by its charge (locked, as for
    every event that changes an order)."""
    intent = obj.get("payment_intent")
    if isinstance(intent, str) and intent:
        order = _order_for({"payment_intent": intent})
        if order is not None:
            return order
    charge_id = disputes.charge_of(obj)
    if charge_id:
        return db.session.scalar(select(Order).where(Order.charge_id == charge_id).with_for_update())
    return None


def _payment_method(obj: dict) -> str:
    """How the buyer paid, as far as the session says: the demo checkout, or the one method it
    offered; else Stripe Checkout."""
    if str(obj.get("id", "")).startswith("cs_demo_"):
        return "demo"
    offered = obj.get("payment_method_types")
    if isinstance(offered, list) and len(offered) == 1 and offered[0] in ("card", "alipay", "wechat_pay"):
        return offered[0]
    return "stripe"


def _close(order, status: OrderStatus) -> str:
    if order.status == status or not ORDER_TRANSITIONS.allowed(order.status, status):
        return f"already {order.status}"  # Stripe repeats and reorders events: a late one changes nothing
    order.status = status
    return status


def _mark_paid(order, obj: dict, config, now: datetime) -> str:
    if order.status == OrderStatus.PAID or not ORDER_TRANSITIONS.allowed(order.status, OrderStatus.PAID):
        return f"already {order.status}"
    order.status = OrderStatus.PAID
    order.paid_at = now
    if obj.get("receipt_url"):
        order.receipt_url = obj["receipt_url"]
    # The organisation's credits; an order whose organisation is gone is marked paid without any.
    organisation = _organisation_of(order)
    if organisation is not None:
        try:
            add_credits(organisation, order.credits, CreditKind.PURCHASE, now, reason=order.reference,
                        source_key=f"purchase:{order.reference}")
        except AlreadyApplied:
            return "already credited"
    order.payment_method = order.payment_method or _payment_method(obj)
    buyer = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    if organisation is not None:
        events.record(organisation.id, buyer, TeamAction.ORDER_PAID, now,
                      target=f"{order.reference}: {order.credits} credits")
    # Numbered in this transaction: a payment that rolls back gives its number back. In the buyer's language.
    invoice = invoices.issue_invoice(order, config, now, (buyer.locale if buyer else None) or
                                     config["BABEL_DEFAULT_LOCALE"])
    notices.payment_received(order, invoice)
    # A refund that arrived before the payment was confirmed is applied now.
    if order.payment_intent_id:
        early = db.session.scalar(select(func.max(WebhookEvent.refunded_cents)).where(
            WebhookEvent.payment_intent_id == order.payment_intent_id))
        order.charge_refunded_cents = max(order.charge_refunded_cents, early or 0)
    settle_refunds(order, now)
    return "paid"


def _organisation_of(order) -> Organisation | None:
    return db.session.get(Organisation, order.organisation_id) if order.organisation_id else None


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
            record.refunded_cents = _cents(obj.get("amount")) if obj.get("status") == RefundStatus.SUCCEEDED else 0
        return "refund recorded before payment"
    record.order_reference = order.reference
    if not order.payment_intent_id and obj.get("payment_intent"):
        order.payment_intent_id = obj["payment_intent"]
    _store_charge(order, obj, now)
    if obj.get("object") == "charge":
        order.charge_refunded_cents = max(order.charge_refunded_cents, _cents(obj.get("amount_refunded")))
        listed = (obj.get("refunds") or {}).get("data") if isinstance(obj.get("refunds"), dict) else None
        for refund in listed if isinstance(listed, list) else []:
            if isinstance(refund, dict):
                _record_refund(order, refund, now)
    else:
        _record_refund(order, obj, now)
    if order.status == OrderStatus.PENDING:
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
    refund_id = str(obj.get("id") or "")[:255]
    status = str(obj.get("status") or "")
    if not refund_id or status not in REFUND_STATUSES:
        return
    amount = _cents(obj.get("amount"))
    insert_once(Refund.__table__, refund_id=refund_id, order_id=order.id, amount_cents=amount, status=status,
                created_at=now, updated_at=now)
    refund = db.session.scalar(select(Refund).where(Refund.refund_id == refund_id))
    if not REFUND_TRANSITIONS.allowed(refund.status, status):
        db.session.flush()
        return  # a late event naming an earlier state (or a final one left) changes nothing
    if refund.status == RefundStatus.SUCCEEDED and status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        order.charge_refunded_cents = max(0, order.charge_refunded_cents - refund.amount_cents)
    if refund.status != status or refund.amount_cents != amount:
        refund.status, refund.amount_cents, refund.updated_at = status, amount, now
    db.session.flush()


def settle_refunds(order, now: datetime) -> str:
    """Bring the order and the buying organisation's credits in line with what is refunded now.

    Refunded: the succeeded refunds, or the charge's cumulative amount if that is higher (refunds
    it covers may not have arrived one by one), at most the order's amount. The credits of the
    refunded share are taken back, never below zero (what was already spent is the shortfall);
    when a refund fails, they are given back, the order's state restored and its credit note
    voided by a void note (see invoices.void_credit). Idempotent.
    """
    succeeded = db.session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
        Refund.order_id == order.id, Refund.status == RefundStatus.SUCCEEDED)) or 0
    refunded = min(order.amount_cents, max(int(succeeded), order.charge_refunded_cents))
    newly = refunded - order.refunded_cents
    order.refunded_cents = refunded
    if order.status in PAID_STATUSES:
        order.status = ORDER_TRANSITIONS.check(order.status, (
            OrderStatus.PAID if refunded == 0 else
            OrderStatus.REFUNDED if refunded >= order.amount_cents else OrderStatus.PARTIALLY_REFUNDED))
    owed = min(order.credits, math.ceil(order.credits * refunded / order.amount_cents)) if order.amount_cents else 0
    delta = owed - order.credits_reversed
    order.credits_reversed = owed
    organisation = _organisation_of(order)
    if delta > 0 or newly > 0:
        # Never below zero here (a dispute's hold may already have taken the balance below it).
        take = min(max(delta, 0), max(metering.balance(organisation.id), 0)) if organisation else 0
        if take:
            add_credits(organisation, -take, CreditKind.REFUND, now, reason=order.reference)
        order.credit_shortfall += max(delta, 0) - take
        if newly > 0:  # money went back: a credit note for it, and the buyer is told
            if organisation is not None:
                events.record(organisation.id, None, TeamAction.ORDER_REFUNDED, now,
                              target=f"{order.reference}: {newly / 100:.2f} {order.currency.upper()}")
            note = invoices.issue_credit_note(order, newly, max(delta, 0), now)
            notices.refunded(order, newly, take, max(delta, 0) - take, note)
    elif delta < 0:
        back = -delta
        forgiven = min(back, order.credit_shortfall)  # credits never taken need no giving back
        order.credit_shortfall -= forgiven
        if organisation is not None and back - forgiven:
            add_credits(organisation, back - forgiven, CreditKind.REFUND, now,
                        reason=f"{order.reference}: refund failed")
    if newly < 0:  # a refund failed after its credit note was issued: a void note cancels that note
        issued = invoices.void_credit(order, -newly, max(-delta, 0), now)
        notices.refund_failed(order, -newly, max(-delta, 0), issued)
    return order.status


def demo_event(kind: str, order, now: datetime, **fields) -> str:
    """A Stripe-shaped event for the demo checkout, as JSON text. Its id is fixed per session and
    kind, so pressing Pay twice delivers the same event twice (and the second changes nothing)."""
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
