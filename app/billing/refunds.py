"""Refunds staff make, whatever the payment backend: ``refund(order, amount, actor, ...)``.

With Stripe the refund is asked for and the order changes when Stripe's webhook confirms it; with
the demo backend the same event is applied at once, through the webhook's own handler.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth.models import User
from app.billing import disputes, webhooks
from app.billing.amounts import in_units
from app.billing.models import Order, OrderStatus
from app.extensions import db
from app.metering import services as metering
from app.uow import commit_now

REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


class NotRefundable(ValueError):
    """The order is not paid, nothing is left to refund, or its payment is disputed (open or lost)."""


class TooMuch(ValueError):
    """More than what is left of the order was asked for; nothing was refunded."""

    def __init__(self, left_cents: int):
        super().__init__(f"{left_cents} cents are left")
        self.left_cents = left_cents


def refundable_amount(order: Order, requested_cents: int | None) -> int:
    """What a refund of ``requested_cents`` (None: all that is left) returns. Raises NotRefundable,
    or TooMuch (with what is left) when more is asked for than remains: never capped silently."""
    left = order.amount_cents - order.refunded_cents
    if order.status not in REFUNDABLE or left <= 0 or disputes.blocks_refund(order):
        raise NotRefundable(order.reference)
    if requested_cents is not None and requested_cents > left:
        raise TooMuch(left)
    return requested_cents or left


@dataclass(frozen=True)
class Preview:
    """What a refund will do, for the confirmation step."""

    amount_cents: int
    credits_back: int  # credits the refund takes back
    balance: int  # the buying organisation's spendable balance now
    shortfall: int  # of those, credits already spent (not taken)

    @property
    def balance_after(self) -> int:
        return self.balance - (self.credits_back - self.shortfall)


def preview(order: Order, amount_cents: int) -> Preview:
    """The credits a refund of ``amount_cents`` takes back and the organisation's balance after it (the
    share of the pack's credits the refunded share of its price bought, see settle_refunds)."""
    refunded = min(order.amount_cents, order.refunded_cents + amount_cents)
    owed = min(order.credits, math.ceil(order.credits * refunded / order.amount_cents)) if order.amount_cents else 0
    back = max(0, owed - order.credits_reversed)
    balance = max(metering.balance(order.organisation_id), 0) if order.organisation_id else 0
    return Preview(amount_cents, back, balance, max(0, back - balance))


def refund(order: Order, requested_cents: int | None, actor: User, reason: str, payment_gateway, config,
           now: datetime, ip: str | None = None) -> str:
    """Refund part or all of a paid order; ``"requested"`` (Stripe confirms later) or ``"applied"``.

    The audit row (the amount in currency units and the reason) is committed before Stripe is
    asked, so an attempt whose request fails stays on record. Raises NotRefundable or TooMuch."""
    amount = refundable_amount(order, requested_cents)
    buyer = db.session.get(User, order.placed_by_id) if order.placed_by_id else None
    audit.record(actor, AuditAction.BILLING_ORDER_REFUND, now, target_user=buyer, target=order.reference,
                 reason=f"{in_units(amount, order.currency)} {order.currency.upper()}: {reason}", ip=ip)
    # On record before Stripe is asked: an attempt whose request fails (or hangs) stays.
    commit_now("refund audit row before the payment provider is asked")
    if payment_gateway.name == "stripe":
        payment_gateway.refund(order, amount, reason_key=str(order.refunded_cents + amount))
        return "requested"
    event = webhooks.demo_event("charge.refunded", order, now, amount_refunded=order.refunded_cents + amount)
    webhooks.handle_event(json.loads(event), config, now)
    return "applied"
