"""Money under concurrency: real concurrent clients against gunicorn (2 workers x 8 threads), on
SQLite as on PostgreSQL. Stripe's servers are the only thing not running here: its webhooks are
signed with stripe.WebhookSignature, as Stripe signs them."""

import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import stripe
from sqlalchemy import func, select

from app.billing import services
from app.billing.models import AlertRecipient, BillingDetails, CreditEntry, Invoice, Order
from app.extensions import db as _db
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS
from tests.server import HttpClient

SECRET = "whsec_concurrency_test"


def post_event(url: str, payload: dict, secret: str = SECRET) -> int:
    """Post ``payload`` signed with ``secret`` to a running server's webhook, as Stripe would."""
    body = json.dumps(payload)
    request = urllib.request.Request(url + "/billing/webhook", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, secret)})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def pending_order(app) -> dict:
    org_id, _ = make_customer(app, credits=0)
    with app.app_context():
        buyer = _db.session.get(Organisation, org_id).memberships[0].user
        order = services.create_order(_db.session.get(Organisation, org_id), buyer, "starter", app.config["PRICING"],
                                      utcnow())
        order.checkout_session_id = "cs_test_race"
        _db.session.commit()
        return {"reference": order.reference, "organisation_id": org_id, "credits": order.credits}


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
            CreditEntry.organisation_id == order["organisation_id"], CreditEntry.kind == "purchase"))
        balance = _db.session.scalar(select(Organisation.credit_balance).where(
            Organisation.id == order["organisation_id"]))
        status = _db.session.scalar(select(Order.status).where(Order.reference == order["reference"]))
        invoices = _db.session.scalars(select(Invoice.number)).all()
    assert (purchases, balance, status) == (1, order["credits"], "paid")
    assert len(invoices) == 1  # one invoice, one number, whatever the number of events


def test_one_customer_saving_billing_details_and_one_alert_address_from_eight_tabs_at_once(make_app, serve):
    """Eight signed-in tabs of one account post at once: every tab gets its answer (no 500), one
    billing-details row and one alert address result."""
    app = make_app()
    make_customer(app, "tabs@example.com", credits=0)
    url = serve()
    tabs = [HttpClient(url) for _ in range(8)]
    for tab in tabs:
        status, _, _ = tab.submit("/login", {"email": "tabs@example.com", "password": PASSWORD_FOR_TESTS})
        assert status == 303
    for action, data in (("/account/billing", {"name": "Tabs Ltd", "address": "1 Main St", "country": "US"}),
                         ("/account/alerts/recipients", {"email": "finance@example.com"})):
        pages = [tab.get("/account/billing" if "billing" in action else "/account/alerts")[2] for tab in tabs]
        tokens = [re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1) for page in pages]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda pair, action=action, data=data: pair[0].request(
                "POST", action, {"csrf_token": pair[1], **data})[0], zip(tabs, tokens, strict=True)))
        assert statuses == [303] * 8, action
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(BillingDetails)) == 1
        assert _db.session.scalar(select(func.count()).select_from(AlertRecipient)) == 1
