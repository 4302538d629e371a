"""Refunds staff make, whatever the payment backend: ``refund(order, amount, actor, ...)``.

With Stripe the refund is asked for and the order changes when Stripe's webhook confirms it; with
the demo backend the same event is applied at once, through the webhook's own handler.
"""

from __future__ import annotations

import json
from datetime import datetime

from app.audit import services as audit
from app.auth.models import User
from app.billing import webhooks
from app.billing.models import Order
from app.extensions import db

REFUNDABLE = ("paid", "partially_refunded")


class NotRefundable(ValueError):
    """The order is not paid, or nothing is left to refund."""


def refundable_amount(order: Order, requested_cents: int | None) -> int:
    """What a refund of ``requested_cents`` (None: all that is left) would return. Raises NotRefundable."""
    left = order.amount_cents - order.refunded_cents
    amount = min(requested_cents or left, left)
    if order.status not in REFUNDABLE or amount <= 0:
        raise NotRefundable(order.reference)
    return amount


def refund(order: Order, requested_cents: int | None, actor: User, reason: str, payment_gateway, config,
           now: datetime, ip: str | None = None) -> str:
    """Refund part or all of a paid order; ``"requested"`` (Stripe confirms later) or ``"applied"``.

    The audit row is committed before Stripe is asked, so an attempt whose request fails stays on
    record. Raises NotRefundable."""
    amount = refundable_amount(order, requested_cents)
    buyer = db.session.get(User, order.user_id) if order.user_id else None
    audit.record(actor, "billing:order:refund", now, target_user=buyer, target=order.reference,
                 reason=f"{amount} cents: {reason}", ip=ip)
    db.session.commit()
    if payment_gateway.name == "stripe":
        payment_gateway.refund(order, amount, reason_key=str(order.refunded_cents + amount))
        return "requested"
    event = webhooks.demo_event("charge.refunded", order, now, amount_refunded=order.refunded_cents + amount)
    webhooks.handle_event(json.loads(event), config, now)
    db.session.commit()
    return "applied"
