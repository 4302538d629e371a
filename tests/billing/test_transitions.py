"""Orders, refunds and disputes move only as their tables allow (ORDER_TRANSITIONS,
REFUND_TRANSITIONS, DISPUTE_TRANSITIONS): Stripe repeats and reorders events, and a late event
naming an earlier state is answered 200 and changes nothing."""

import pytest
from sqlalchemy import select

from app.billing import disputes, services
from app.billing.models import (
    ORDER_TRANSITIONS,
    Dispute,
    DisputeStatus,
    Order,
    OrderStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from app.extensions import db as _db
from app.states import IllegalTransition
from app.timeutil import utcnow
from tests.billing.test_webhooks import SECRET, event, pending_order, post, session_obj, state, stripe_refund


@pytest.fixture
def app(make_app):
    return make_app(STRIPE_WEBHOOK_SECRET=SECRET)


@pytest.fixture
def order(app):
    return pending_order(app)


def test_a_late_expiry_leaves_a_paid_order_paid(app, client, order):
    assert post(client, event("checkout.session.completed", session_obj(order))).status_code == 200
    late = post(client, event("checkout.session.expired", session_obj(order), event_id="evt_late_expiry"))
    assert late.status_code == 200
    assert state(app, order) == ("paid", 10_000, 0)
    with app.app_context():
        assert _db.session.scalar(select(WebhookEvent.outcome).where(
            WebhookEvent.event_id == "evt_late_expiry")) == "already paid"


def test_a_late_pending_refund_event_does_not_undo_a_succeeded_refund(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("refund.updated", stripe_refund(status="succeeded")))
    assert state(app, order) == ("partially_refunded", 5_000, 0)
    late = post(client, event("refund.created", stripe_refund(status="pending")))  # delivered after the update
    assert late.status_code == 200
    assert state(app, order) == ("partially_refunded", 5_000, 0)
    with app.app_context():
        assert _db.session.scalar(select(Refund.status)) == RefundStatus.SUCCEEDED


def test_expiring_orders_moves_only_pending_ones(app, order):
    with app.app_context():
        paid = _db.session.scalar(select(Order))
        paid.status, paid.expires_at = OrderStatus.PAID, utcnow()
        _db.session.commit()
        assert services.expire_orders(utcnow()) == 0
        assert _db.session.scalar(select(Order.status)) == "paid"


def test_an_unpaid_order_cannot_be_refunded(app, order):
    with app.app_context():
        placed = _db.session.scalar(select(Order))
        with pytest.raises(IllegalTransition, match="The order is pending: it cannot become refunded."):
            ORDER_TRANSITIONS.check(placed.status, OrderStatus.REFUNDED)


def test_a_lost_dispute_stays_lost_whatever_arrives_later(app, order):
    with app.app_context():
        placed = _db.session.scalar(select(Order))
        obj = {"id": "dp_1", "status": "lost", "amount": 900, "currency": "usd", "reason": "fraudulent",
               "charge": "ch_1", "payment_intent": "pi_test_1"}
        assert disputes.record(obj, placed, utcnow()) == "dispute lost"
        assert disputes.record({**obj, "status": "needs_response"}, placed, utcnow()) == "dispute lost"
        assert _db.session.scalar(select(Dispute.status)) == DisputeStatus.LOST
