"""The Stripe webhook, with payloads signed by stripe.WebhookSignature.generate_signature_header."""

import json
import threading
import time

import pytest
import stripe
from sqlalchemy import func, select

from app.auth.models import User
from app.billing import services
from app.billing.models import CreditEntry, Invoice, Order, WebhookEvent
from app.extensions import db as _db
from app.organisations.models import Membership, Organisation, Role
from app.organisations.services import create_organisation
from app.timeutil import utcnow
from tests.fixtures.factories import OrderFactory, UserFactory, charge_call, make_customer

SECRET = "whsec_test_secret"


@pytest.fixture
def app(make_app):
    return make_app(STRIPE_WEBHOOK_SECRET=SECRET)


def pending_order(app) -> dict:
    """A customer with no credits and one order of their personal organisation whose checkout
    opened (``OrderFactory``)."""
    org_id, _ = make_customer(app, credits=0)
    with app.test_request_context():
        created = OrderFactory(user=_db.session.scalar(select(User).where(User.email == "alice@example.com")))
        _db.session.commit()
        return {"reference": created.reference, "organisation_id": org_id,
                "session_id": created.checkout_session_id}


@pytest.fixture
def order(app):
    return pending_order(app)


def event(kind, obj, event_id=None):
    return {"id": event_id or f"evt_{kind}_{time.time_ns()}", "object": "event", "type": kind,
            "data": {"object": obj}}


def session_obj(order, **fields):
    return {"object": "checkout.session", "id": order["session_id"], "client_reference_id": order["reference"],
            "metadata": {"order_reference": order["reference"]}, "payment_status": "paid",
            "payment_intent": "pi_test_1", **fields}


def post(client, payload, secret=SECRET, timestamp=None, signature=None):
    body = json.dumps(payload) if not isinstance(payload, str) else payload
    header = signature if signature is not None else stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp)
    headers = {"Stripe-Signature": header} if header else {}
    return client.post("/billing/webhook", data=body, headers=headers, content_type="application/json")


def state(app, order):
    with app.app_context():
        o = _db.session.scalar(select(Order).where(Order.reference == order["reference"]))
        balance = _db.session.scalar(select(Organisation.credit_balance).where(
            Organisation.id == order["organisation_id"]))
        return o.status, balance, o.credit_shortfall


def test_a_good_signature_fulfils_the_order(app, client, order):
    response = post(client, event("checkout.session.completed", session_obj(order)))
    assert response.status_code == 200
    assert state(app, order) == ("paid", 10_000, 0)


@pytest.mark.parametrize("case", ["missing", "wrong_secret", "stale", "tampered", "garbage"])
def test_bad_signatures_change_nothing(app, client, order, case):
    payload = event("checkout.session.completed", session_obj(order))
    if case == "missing":
        response = post(client, payload, signature="")
    elif case == "wrong_secret":
        response = post(client, payload, secret="whsec_other")
    elif case == "stale":
        response = post(client, payload, timestamp=int(time.time()) - 3600)
    elif case == "tampered":
        body = json.dumps(payload)
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        response = post(client, body.replace('"paid"', '"paid" '), signature=header)
    else:
        response = post(client, "not json at all", signature="t=1,v1=abc")
    assert response.status_code == 400
    assert state(app, order) == ("pending", 0, 0)
    with app.app_context():
        assert _db.session.scalars(select(WebhookEvent)).all() == []


def test_the_same_event_twice_in_sequence_changes_nothing(app, client, order):
    payload = event("checkout.session.completed", session_obj(order), event_id="evt_once")
    assert post(client, payload).get_json()["outcome"] == "paid"
    assert post(client, payload).get_json()["outcome"] == "duplicate"
    assert state(app, order) == ("paid", 10_000, 0)


def test_the_same_event_twice_concurrently_changes_nothing(app, order):
    payload = event("checkout.session.completed", session_obj(order), event_id="evt_race")
    results = []

    def deliver():
        results.append(post(app.test_client(), payload).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 6
    assert state(app, order) == ("paid", 10_000, 0)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(CreditEntry).where(
            CreditEntry.kind == "purchase")) == 1


def test_a_different_completed_event_for_a_paid_order_grants_nothing_more(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("checkout.session.async_payment_succeeded", session_obj(order)))
    assert state(app, order) == ("paid", 10_000, 0)


def test_unpaid_completion_waits_then_async_success_pays(app, client, order):
    outcome = post(client, event("checkout.session.completed", session_obj(order, payment_status="unpaid")))
    assert outcome.get_json()["outcome"] == "awaiting payment"
    assert state(app, order) == ("pending", 0, 0)
    post(client, event("checkout.session.async_payment_succeeded", session_obj(order)))
    assert state(app, order) == ("paid", 10_000, 0)


def test_async_failure_and_expiry(app, client, order):
    post(client, event("checkout.session.async_payment_failed", session_obj(order)))
    assert state(app, order)[0] == "failed"
    post(client, event("checkout.session.expired", session_obj(order)))
    assert state(app, order)[0] == "failed"  # only a pending order expires


def test_expiry_of_a_pending_order(app, client, order):
    post(client, event("checkout.session.expired", session_obj(order, payment_status="unpaid")))
    assert state(app, order) == ("expired", 0, 0)


def test_full_and_partial_refunds_take_back_credits_never_below_zero(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    charge = {"object": "charge", "payment_intent": "pi_test_1", "amount": 900, "amount_refunded": 450}
    post(client, event("charge.refunded", charge))
    assert state(app, order) == ("partially_refunded", 5_000, 0)
    with app.app_context():  # the customer spends most of what is left
        charge_call(order["organisation_id"], 4_000, "spent")
        _db.session.commit()
    post(client, event("charge.refunded", {**charge, "amount_refunded": 900}))
    assert state(app, order) == ("refunded", 0, 4_000)


def test_refund_events_count_each_refund_once(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    refund = {"object": "refund", "id": "re_1", "payment_intent": "pi_test_1", "amount": 90, "status": "succeeded"}
    post(client, event("refund.created", refund))
    post(client, event("refund.updated", refund))  # the same refund again, as another event
    status, balance, _ = state(app, order)
    assert status == "partially_refunded" and balance == 9_000


def test_refund_before_completion_is_applied_when_payment_completes(app, client, order):
    post(client, event("charge.refunded", {"object": "charge", "payment_intent": "pi_test_1", "amount": 900,
                                           "amount_refunded": 900}))
    assert state(app, order) == ("pending", 0, 0)
    post(client, event("checkout.session.completed", session_obj(order)))
    assert state(app, order) == ("refunded", 0, 0)


def test_unknown_orders_and_unhandled_events_are_acknowledged(app, client, order):
    unknown = post(client, event("checkout.session.completed", {
        "object": "checkout.session", "id": "cs_other", "metadata": {"order_reference": "ORD-NONE-0000"},
        "payment_status": "paid"}))
    assert unknown.status_code == 200 and unknown.get_json()["outcome"] == "unknown order"
    other = post(client, event("customer.created", {"object": "customer", "id": "cus_1"}))
    assert other.status_code == 200 and other.get_json()["outcome"] == "ignored"
    assert state(app, order) == ("pending", 0, 0)


def test_balances_still_match_the_ledger_after_payments_and_refunds(app, client, order, runner):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("charge.refunded", {"object": "charge", "payment_intent": "pi_test_1", "amount": 900,
                                           "amount_refunded": 300}))
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def test_stripes_receipt_link_is_kept_for_the_receipt_page(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("charge.succeeded", {"object": "charge", "payment_intent": "pi_test_1",
                                            "receipt_url": "https://pay.stripe.com/receipts/abc"}))
    with app.app_context():
        assert _db.session.scalar(select(Order.receipt_url)) == "https://pay.stripe.com/receipts/abc"


# --- refunds keyed on the refund's own id (payloads shaped like Stripe's fixture objects) -----------

def stripe_charge(amount_refunded, refunds=None):
    """A charge as Stripe sends it in charge.refunded (API versions since 2022-11-15 leave out the
    ``refunds`` list unless expanded)."""
    charge = {"id": "ch_3MmlLrLkdIwHu7ix0snN0B15", "object": "charge", "amount": 900, "amount_captured": 900,
              "amount_refunded": amount_refunded, "captured": True, "currency": "usd", "paid": True,
              "payment_intent": "pi_test_1", "refunded": amount_refunded >= 900, "status": "succeeded",
              "metadata": {}}
    if refunds is not None:
        charge["refunds"] = {"object": "list", "data": refunds, "has_more": False,
                             "url": "/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15/refunds"}
    return charge


def stripe_refund(refund_id="re_1Nispe2eZvKYlo2Cd31jOCgZ", amount=450, status="succeeded"):
    """A refund as Stripe sends it in refund.created / refund.updated / refund.failed."""
    return {"id": refund_id, "object": "refund", "amount": amount, "balance_transaction": "txn_1",
            "charge": "ch_3MmlLrLkdIwHu7ix0snN0B15", "created": 1692942318, "currency": "usd",
            "metadata": {"order_reference": ""}, "payment_intent": "pi_test_1", "reason": None,
            "receipt_number": None, "source_transfer_reversal": None, "status": status, "transfer_reversal": None}


@pytest.mark.parametrize("first", ["charge.refunded", "refund.created"])
def test_a_half_refund_announced_by_both_events_counts_once_in_either_order(app, client, order, first):
    post(client, event("checkout.session.completed", session_obj(order)))
    pair = {"charge.refunded": event("charge.refunded", stripe_charge(450)),
            "refund.created": event("refund.created", stripe_refund())}
    second = "refund.created" if first == "charge.refunded" else "charge.refunded"
    post(client, pair[first])
    post(client, pair[second])
    assert state(app, order) == ("partially_refunded", 5_000, 0)
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def test_a_charge_listing_its_refunds_counts_each_once(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("refund.created", stripe_refund("re_a", 300)))
    post(client, event("charge.refunded", stripe_charge(600, [stripe_refund("re_a", 300), stripe_refund("re_b", 300)])))
    post(client, event("refund.created", stripe_refund("re_b", 300)))
    with app.app_context():
        refunded = _db.session.scalar(select(Order.refunded_cents))
    assert refunded == 600
    assert state(app, order)[:2] == ("partially_refunded", 3_333)


def test_a_failed_refund_gives_the_credits_back_and_restores_the_order(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    post(client, event("refund.created", stripe_refund()))
    post(client, event("charge.refunded", stripe_charge(450)))
    assert state(app, order) == ("partially_refunded", 5_000, 0)
    post(client, event("refund.failed", stripe_refund(status="failed")))
    assert state(app, order) == ("paid", 10_000, 0)
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def test_a_failed_refund_whose_credits_were_spent_clears_the_shortfall_first(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    with app.app_context():
        charge_call(order["organisation_id"], 8_000, "spent")
        _db.session.commit()
    post(client, event("refund.created", stripe_refund(amount=900)))
    assert state(app, order) == ("refunded", 0, 8_000)
    post(client, event("refund.failed", stripe_refund(amount=900, status="failed")))
    assert state(app, order) == ("paid", 2_000, 0)


def test_credits_verify_finds_an_order_credited_twice(app, client, order):
    post(client, event("checkout.session.completed", session_obj(order)))
    with app.app_context():  # what the race used to leave behind: a second purchase row
        organisation = _db.session.get(Organisation, order["organisation_id"])
        services.add_credits(organisation, 10_000, "purchase", utcnow(), reason=order["reference"])
        _db.session.commit()
    result = app.test_cli_runner().invoke(args=["credits", "verify"])
    assert result.exit_code == 1
    assert f"MISMATCH order {order['reference']}: 10000 credits bought, 20000 credited" in result.output


def test_an_event_signed_in_the_future_is_refused(app, client, order):
    response = post(client, event("checkout.session.completed", session_obj(order)), timestamp=int(time.time()) + 600)
    assert response.status_code == 400
    assert state(app, order) == ("pending", 0, 0)


@pytest.mark.parametrize("body", ["[1, 2, 3]", '"text"', "42", "null"])
def test_a_validly_signed_body_that_is_not_an_object_is_a_400(app, client, order, body):
    assert post(client, body).status_code == 400


@pytest.mark.parametrize("data", [[1, 2], "text", {"object": [1]}, {"object": "x"}, None])
def test_a_signed_event_of_a_strange_shape_is_acknowledged_and_changes_nothing(app, client, order, data):
    response = post(client, {"id": "evt_odd", "type": "checkout.session.completed", "data": data})
    assert response.status_code == 200
    assert state(app, order) == ("pending", 0, 0)


def test_a_payment_credits_the_orders_organisation_and_its_receipt_goes_to_the_buyer(app, client, outbox):
    """A billing member buys for a team: the credits are the team's (not the buyer's personal
    organisation's), the receipt goes to the buyer, and to the owners once the buyer has left."""
    with app.test_request_context():
        now = utcnow()
        owner, buyer = UserFactory(email="owner@example.com"), UserFactory(email="buyer@example.com")
        team = create_organisation(owner, "Acme", now)
        _db.session.add(Membership(organisation_id=team.id, user_id=buyer.id, role=Role.BILLING, created_at=now))
        first, second = OrderFactory(user=buyer, organisation=team), OrderFactory(user=buyer, organisation=team)
        _db.session.commit()
        team_id, orders = team.id, [{"reference": o.reference, "session_id": o.checkout_session_id,
                                     "organisation_id": team.id} for o in (first, second)]
        assert (first.organisation_id, first.placed_by_id) == (team_id, buyer.id)
    outbox.clear()
    assert post(client, event("checkout.session.completed", session_obj(orders[0]))).get_json()["outcome"] == "paid"
    assert state(app, orders[0]) == ("paid", 10_000, 0)
    assert [m["To"] for m in outbox if "receipt" in m["Subject"]] == ["buyer@example.com"]
    assert "Acme" in next(m for m in outbox if "receipt" in m["Subject"]).get_body(("plain",)).get_content()
    with app.app_context():  # the buyer leaves the team: the next receipt goes to its owner
        _db.session.execute(Membership.__table__.delete().where(Membership.organisation_id == team_id,
                                                                Membership.role == Role.BILLING))
        _db.session.commit()
    outbox.clear()
    post(client, event("checkout.session.completed", session_obj(orders[1], payment_intent="pi_test_2")))
    assert state(app, orders[1]) == ("paid", 20_000, 0)
    assert [m["To"] for m in outbox if "receipt" in m["Subject"]] == ["owner@example.com"]
    with app.app_context():
        personal = _db.session.scalars(select(Organisation.credit_balance).where(Organisation.personal)).all()
    assert personal == [0, 0]  # nothing went to the members' personal organisations
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def test_an_order_whose_organisation_is_gone_is_paid_without_credits(app, client, order, outbox):
    """The order outlives its organisation (SET NULL, kept for tax law): a late payment is recorded
    and invoiced, and no one is credited or mailed."""
    with app.app_context():
        _db.session.execute(Order.__table__.update().where(Order.reference == order["reference"])
                            .values(organisation_id=None))
        _db.session.commit()
    outbox.clear()
    assert post(client, event("checkout.session.completed", session_obj(order))).get_json()["outcome"] == "paid"
    assert state(app, order) == ("paid", 0, 0)
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Invoice)) == 1
        assert _db.session.scalar(select(func.count()).select_from(CreditEntry).where(
            CreditEntry.kind == "purchase")) == 0
    assert not [m for m in outbox if "receipt" in m["Subject"]]
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output
