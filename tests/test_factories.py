"""The test factories make each aggregate as the site would: what a customer or staff then sees
of it is what the pages would have made (tests/fixtures/factories.py)."""

from __future__ import annotations

from app.billing.models import Order, OrderStatus
from app.contact.models import ThreadStatus
from app.extensions import db as _db
from app.rights.models import RequestStatus
from app.uow import atomic
from tests.fixtures.factories import (
    ApiKeyFactory,
    ContactThreadFactory,
    InvoiceFactory,
    OrderFactory,
    RightsRequestFactory,
    UserFactory,
    org_of,
)
from tests.fixtures.visitor import AuthActions, bearer


def test_a_key_from_its_factory_calls_the_api_and_its_owner_sees_it(app, client, outbox):
    with app.test_request_context(), atomic():
        key = ApiKeyFactory(name="factory key", user=UserFactory(email="kay@example.com"))
        user_id, secret, prefix = key.created_by_id, key.secret, key.prefix
    response = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 402  # a real key of an account with no credits yet
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert any(m["To"] == "kay@example.com" and "factory key" in m.get_body(("plain",)).get_content()
               for m in outbox)
    AuthActions(client, outbox).login("kay@example.com")
    page = client.get("/account/keys").get_data(as_text=True)
    assert "factory key" in page and prefix in page
    assert user_id


def test_a_paid_order_from_its_factory_has_its_credits_and_its_invoice(app, client, outbox):
    with app.test_request_context(), atomic():
        buyer = UserFactory(email="olive@example.com")
        invoice = InvoiceFactory(order__user=buyer)
        order = _db.session.get(Order, invoice.order_id)
        assert order.status == OrderStatus.PAID and org_of(buyer).credit_balance == order.credits
        number, reference = invoice.number, order.reference
        pending = OrderFactory(user=buyer)
        assert pending.status == OrderStatus.PENDING and pending.paid_at is None
    assert number.startswith("INV-")
    AuthActions(client, outbox).login("olive@example.com")
    assert reference in client.get("/account/orders").get_data(as_text=True)
    assert number in client.get(f"/account/orders/{reference}").get_data(as_text=True)


def test_a_rights_request_from_its_factory_is_confirmed_and_its_receipt_sent(app, outbox):
    with app.test_request_context(), atomic():
        request = RightsRequestFactory(email="rhea@example.com", kind="erasure")
        unconfirmed = RightsRequestFactory(confirmed=False)
        assert request.status == RequestStatus.RECEIVED and request.due_on is not None
        assert unconfirmed.status == RequestStatus.UNCONFIRMED
        reference = request.reference
    receipts = [m for m in outbox if m["To"] == "rhea@example.com"]
    assert any(reference in m.get_body(("plain",)).get_content() for m in receipts)


def test_a_support_thread_from_its_factory_is_new_and_acknowledged(app, outbox):
    with app.test_request_context(), atomic():
        thread = ContactThreadFactory(email="tess@example.com", body="My invoice is missing.")
        assert thread.status == ThreadStatus.NEW
        assert [m.body for m in thread.messages] == ["My invoice is missing."]
        reference = thread.reference
    assert any(m["To"] == "tess@example.com" and reference in m.get_body(("plain",)).get_content() for m in outbox)
