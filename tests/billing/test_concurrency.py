"""Money under concurrency: real concurrent clients against gunicorn (2 workers x 8 threads), on
SQLite as on PostgreSQL. Stripe's servers are the only thing not running here: its webhooks are
signed with stripe.WebhookSignature, as Stripe signs them."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import stripe
from sqlalchemy import func, select

from app.auth.models import User
from app.billing import services
from app.billing.models import CreditEntry, Invoice, Order
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer

SECRET = "whsec_concurrency_test"


def post_event(url: str, payload: dict) -> int:
    body = json.dumps(payload)
    request = urllib.request.Request(url + "/billing/webhook", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, SECRET)})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def pending_order(app) -> dict:
    user_id, _ = make_customer(app, credits=0)
    with app.app_context():
        order = services.create_order(_db.session.get(User, user_id), "starter", app.config["PRICING"], utcnow())
        order.checkout_session_id = "cs_test_race"
        _db.session.commit()
        return {"reference": order.reference, "user_id": user_id, "credits": order.credits}


def completed(order: dict, n: int) -> dict:
    """Twenty different events (different ids) that each say the order is paid."""
    kind = "checkout.session.completed" if n % 2 else "checkout.session.async_payment_succeeded"
    return {"id": f"evt_race_{n}", "object": "event", "type": kind, "data": {"object": {
        "object": "checkout.session", "id": "cs_test_race", "client_reference_id": order["reference"],
        "metadata": {"order_reference": order["reference"]}, "payment_status": "paid",
        "payment_intent": "pi_test_race"}}}


def test_twenty_concurrent_payment_events_for_one_order_credit_it_once(make_app, serve):
    app = make_app(STRIPE_WEBHOOK_SECRET=SECRET)
    order = pending_order(app)
    url = serve(STRIPE_WEBHOOK_SECRET=SECRET)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda n: post_event(url, completed(order, n)), range(20)))
    assert statuses == [200] * 20
    with app.app_context():
        purchases = _db.session.scalar(select(func.count()).select_from(CreditEntry).where(
            CreditEntry.user_id == order["user_id"], CreditEntry.kind == "purchase"))
        balance = _db.session.scalar(select(User.credit_balance).where(User.id == order["user_id"]))
        status = _db.session.scalar(select(Order.status).where(Order.reference == order["reference"]))
        invoices = _db.session.scalars(select(Invoice.number)).all()
    assert (purchases, balance, status) == (1, order["credits"], "paid")
    assert len(invoices) == 1  # one invoice, one number, whatever the number of events
