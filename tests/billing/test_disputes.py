"""Disputes (chargebacks): Stripe's ``charge.dispute.*`` events, shaped like the ``dispute`` object of
Stripe's own fixtures (stripe/openapi fixtures3.json) and signed with stripe.WebhookSignature, in
either order and each delivered twice; the held credits, what the customer and billing staff see,
and the mail to staff through the outbox."""

import copy
import csv
import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth.models import User, UserRole
from app.billing.models import CreditEntry, Dispute, Order
from app.email import OutboxMessage
from app.extensions import db as _db
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.billing.test_concurrency import post_event
from tests.billing.test_webhooks import SECRET, event, post, session_obj
from tests.fixtures.factories import OrderFactory, UserFactory, charge_call, make_customer, org_of
from tests.fixtures.visitor import AuthActions, bearer, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff

# Stripe's fixture ``dispute`` object (stripe/openapi, openapi/fixtures3.json, resources.dispute).
FIXTURE_DISPUTE = {
    "amount": 1000, "balance_transactions": [], "charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8", "created": 1234567890,
    "currency": "usd",
    "evidence": {k: None for k in (
        "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
        "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
        "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
        "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt", "refund_policy",
        "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "service_documentation",
        "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
        "shipping_tracking_number", "uncategorized_file", "uncategorized_text")} | {"enhanced_evidence": {}},
    "evidence_details": {"due_by": 1723679999, "has_evidence": False, "past_due": False, "submission_count": 0,
                         "enhanced_eligibility": {}},
    "id": "dp_1Pgc71B7WZ01zgkWMevJiAUx", "is_charge_refundable": True, "livemode": False, "metadata": {},
    "object": "dispute", "payment_intent": None,
    "payment_method_details": {"card": {"brand": "visa", "case_type": "inquiry", "network_reason_code": "10.4",
                                        "network": "visa"}, "type": "card"},
    "reason": "general", "status": "warning_needs_response",
    "enhanced_eligibility_types": ["visa_compelling_evidence_3"],
}
CHARGE = "ch_3MmlLrLkdIwHu7ix0snN0B15"


def dispute(status="needs_response", amount=900, payment_intent="pi_test_1", reason="fraudulent"):
    """The fixture object for our charge: Checkout's charges belong to a payment intent."""
    obj = copy.deepcopy(FIXTURE_DISPUTE)
    obj.update(amount=amount, charge=CHARGE, payment_intent=payment_intent, reason=reason, status=status)
    if status in ("won", "lost"):
        obj["is_charge_refundable"] = False
        obj["evidence_details"].update(has_evidence=True, submission_count=1)
    return obj


@pytest.fixture
def app(make_app):
    return make_app(STRIPE_WEBHOOK_SECRET=SECRET)


@pytest.fixture
def paid(app, runner, outbox):
    """A signed-in buyer whose starter pack (10,000 credits for $9.00) is paid, who has spent 4,000
    credits since (balance 6,100 with the welcome credits, in their personal organisation); a
    billing staff member."""
    buyer = app.test_client()
    AuthActions(buyer, outbox).register("buyer@example.com")
    AuthActions(buyer, outbox).login("buyer@example.com")
    with app.test_request_context():
        user = _db.session.scalar(select(User).where(User.email == "buyer@example.com"))
        order = OrderFactory(user=user)
        _db.session.commit()
        opened, org_id = {"reference": order.reference, "session_id": order.checkout_session_id}, org_of(user).id
        reference = order.reference
    paid = post(app.test_client(), event("checkout.session.completed", session_obj(opened)))
    assert paid.get_json()["outcome"] == "paid"
    with app.app_context():
        charge_call(org_id, 4_000, "spent")
        _db.session.commit()
    make_staff(runner, "billing@example.com", roles=("billing",))
    staff = app.test_client()
    AuthActions(staff, outbox).login("billing@example.com", PASSWORD)
    turn_on_2fa(staff)
    outbox.clear()
    return {"reference": reference, "organisation_id": org_id, "buyer": buyer, "staff": staff}


def balance(app, organisation_id):
    with app.app_context():
        return _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == organisation_id))


def verified(app) -> bool:
    return "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def text(response) -> str:
    """The page's words, without its tags."""
    assert response.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split()).replace(" · ", " ")


def test_a_dispute_holds_the_credits_below_zero_and_tells_the_customer_and_billing_staff(app, paid, outbox):
    created = event("charge.dispute.created", dispute(), event_id="evt_dispute_created")
    client = app.test_client()
    assert post(client, created).get_json()["outcome"] == "dispute held"
    assert post(client, created).get_json()["outcome"] == "duplicate"
    assert balance(app, paid["organisation_id"]) == -3_900  # 6,100 - 10,000: only a dispute goes below zero
    assert verified(app)

    page = text(paid["buyer"].get(f"/account/orders/{paid['reference']}"))
    assert "Your bank disputed this payment" in page
    assert "10,000 credits are held" in page and "-3,900" in page
    listing = text(paid["buyer"].get("/account/orders"))
    assert "-3,900" in listing and "disputed" in listing
    dashboard = text(paid["buyer"].get("/account"))
    assert "below zero because credits of a disputed payment are held" in dashboard

    orders = text(paid["staff"].get("/staff/orders"))
    assert "Open disputes" in orders and paid["reference"] in orders and "fraudulent" in orders.lower()
    dashboard = text(paid["staff"].get("/staff/"))
    assert "1 open dispute" in dashboard
    order_page = text(paid["staff"].get(f"/staff/orders/{paid['reference']}"))
    assert "dp_1Pgc71B7WZ01zgkWMevJiAUx" in order_page and "needs response" in order_page

    to_staff = [m for m in outbox if m["To"] == "billing@example.com"]
    assert len(to_staff) == 1  # once, however often Stripe delivers the event
    assert paid["reference"] in to_staff[0]["Subject"] and "dispute" in to_staff[0]["Subject"].lower()
    body = to_staff[0].get_body(("plain",)).get_content()
    assert "$9.00" in body and "/staff/orders/" + paid["reference"] in body


@pytest.mark.parametrize("outcome", ["won", "lost"])
@pytest.mark.parametrize("first", ["created", "closed"])
def test_a_dispute_settles_once_in_either_order_each_event_twice(app, paid, outbox, first, outcome):
    created = event("charge.dispute.created", dispute(), event_id="evt_dp_created")
    updated = event("charge.dispute.updated", dispute(status="under_review"), event_id="evt_dp_updated")
    closed = event("charge.dispute.closed", dispute(status=outcome), event_id="evt_dp_closed")
    sequence = [created, created, updated, updated, closed, closed]
    if first == "closed":
        sequence = [closed, closed, updated, updated, created, created]
    client = app.test_client()
    for payload in sequence:
        assert post(client, payload).status_code == 200
    expected = 6_100 if outcome == "won" else -3_900
    assert balance(app, paid["organisation_id"]) == expected
    assert verified(app)
    with app.app_context():
        row = _db.session.scalar(select(Dispute))
        assert (row.status, row.amount_cents, row.reason, row.charge_id) == (outcome, 900, "fraudulent", CHARGE)
        assert row.closed_at is not None
        entries = _db.session.scalars(select(CreditEntry.amount).where(CreditEntry.kind == "dispute")).all()
    assert sum(entries) == (0 if outcome == "won" else -10_000)
    page = text(paid["buyer"].get(f"/account/orders/{paid['reference']}"))
    if outcome == "won":
        assert "The dispute was decided in our favour" in page and "the 10,000 credits held were given back" in page
    else:
        assert "The bank decided the dispute for you" in page and "10,000 credits it bought stay removed" in page
    orders = text(paid["staff"].get("/staff/orders"))
    assert "Open disputes" not in orders
    assert f"dispute {outcome}" in text(paid["staff"].get(f"/staff/orders/{paid['reference']}"))
    subjects = [m["Subject"] for m in outbox if m["To"] == "billing@example.com"]
    assert len(subjects) == (1 if first == "closed" else 2)  # opened (unless it came closed), then closed


def test_the_buyers_export_lists_the_dispute_with_its_labels(app, paid):
    """The right of access covers disputes: the export says when, how much, why and how it ended."""
    client = app.test_client()
    post(client, event("charge.dispute.created", dispute(), event_id="evt_dp_export_created"))
    post(client, event("charge.dispute.closed", dispute(status="won"), event_id="evt_dp_export_closed"))
    archive = zipfile.ZipFile(io.BytesIO(paid["buyer"].get("/account/privacy/export").get_data()))
    [row] = list(csv.DictReader(io.StringIO(archive.read("disputes.csv").decode())))
    assert (row["amount_cents"], row["currency"], row["status_label"], row["reason_label"]) == (
        "900", "USD", "won", "fraudulent")
    assert row["closed_at"] and "disputes.csv" in archive.read("README.html").decode()


def test_a_dispute_named_by_its_charge_only_finds_the_order_and_an_unknown_one_is_kept(app, paid):
    client = app.test_client()
    post(client, event("charge.succeeded", {"object": "charge", "id": CHARGE, "payment_intent": "pi_test_1",
                                            "receipt_url": "https://pay.stripe.com/receipts/x"}))
    assert post(client, event("charge.dispute.created", dispute(payment_intent=None))).get_json()["outcome"] == (
        "dispute held")
    assert balance(app, paid["organisation_id"]) == -3_900
    other = {**dispute(payment_intent=None), "id": "dp_other", "charge": "ch_unknown"}
    assert post(client, event("charge.dispute.created", other)).get_json()["outcome"] == "dispute for unknown order"
    assert "dp_other" in text(paid["staff"].get("/staff/orders"))
    odd = {**dispute(), "id": "dp_odd", "amount": "lots", "status": ["x"], "reason": {"a": 1}}
    assert post(client, event("charge.dispute.created", odd)).status_code == 200


def test_a_refund_is_refused_while_the_payment_is_disputed(app, paid):
    post(app.test_client(), event("charge.dispute.created", dispute()))
    page = text(paid["staff"].get(f"/staff/orders/{paid['reference']}"))
    assert "cannot be refunded while" in page


def test_the_same_dispute_posted_concurrently_by_real_clients_holds_the_credits_once(make_app, serve):
    """Twelve deliveries of one event and twelve other events about the same open dispute, at once,
    against gunicorn (2 workers x 8 threads), on SQLite as on PostgreSQL."""
    app = make_app(STRIPE_WEBHOOK_SECRET=SECRET)
    org_id, _ = make_customer(app, "racer@example.com", credits=0)
    with app.test_request_context():
        staff = UserFactory(email="billing@example.com", created_at=utcnow())
        _db.session.add(UserRole(user_id=staff.id, role="billing"))
        order = OrderFactory(user=_db.session.scalar(select(User).where(User.email == "racer@example.com")))
        _db.session.commit()
        reference, opened = order.reference, {"reference": order.reference, "session_id": order.checkout_session_id}
    url = serve(STRIPE_WEBHOOK_SECRET=SECRET)
    assert post_event(url, event("checkout.session.completed", session_obj(opened)), SECRET) == 200
    same = event("charge.dispute.created", dispute(), event_id="evt_dp_race")
    others = [event("charge.dispute.updated", dispute(status="needs_response"), event_id=f"evt_dp_u{n}")
              for n in range(12)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda e: post_event(url, e, SECRET), [same] * 12 + others))
    assert statuses == [200] * 24
    with app.app_context():
        held = _db.session.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.organisation_id == org_id, CreditEntry.kind == "dispute"))
        rows = _db.session.scalar(select(func.count()).select_from(Dispute))
        status = _db.session.scalar(select(Order.status).where(Order.reference == reference))
        alerts = _db.session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.template == "dispute_opened")).all()
    assert (held, rows, status) == (-10_000, 1, "paid")
    assert alerts == ["billing@example.com"]  # billing staff told once
    assert balance(app, org_id) == 0
    assert verified(app)


def test_credits_held_below_zero_stop_api_calls_until_the_dispute_is_won(app, client):
    org_id, secret = make_customer(app, "caller@example.com", credits=0)
    with app.test_request_context():
        order = OrderFactory(user=_db.session.scalar(select(User).where(User.email == "caller@example.com")))
        _db.session.commit()
        opened = {"reference": order.reference, "session_id": order.checkout_session_id}
    post(client, event("checkout.session.completed", session_obj(opened)))
    with app.app_context():
        charge_call(org_id, 4_000, "spent")
        _db.session.commit()
    post(client, event("charge.dispute.created", dispute()))
    refused = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert refused.status_code == 402 and refused.get_json()["balance"] == -4_000
    post(client, event("charge.dispute.closed", dispute(status="won")))
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200


def test_a_refund_arriving_while_credits_are_held_below_zero_gives_no_credits(app, paid):
    client = app.test_client()
    post(client, event("charge.dispute.created", dispute()))
    post(client, event("charge.refunded", {"object": "charge", "id": CHARGE, "payment_intent": "pi_test_1",
                                           "amount": 900, "amount_refunded": 450}))
    assert balance(app, paid["organisation_id"]) == -3_900
    assert verified(app)
