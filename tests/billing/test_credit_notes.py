"""A refund that fails after its credit note was issued: the note is voided by a new document with
its own number (issued documents are never edited), and the order, the invoice and the staff
console show the net credit. Refund events are shaped like Stripe's ``refund`` fixture object and
signed with stripe.WebhookSignature."""

import re
from datetime import date

from flask_migrate import upgrade
from sqlalchemy import select, text

from app import create_app
from app.auth.models import User
from app.billing.models import Invoice, Order
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.billing.test_invoices import SELLER, buy_and_pay, buyer, pdf_text
from tests.billing.test_staff import _staff
from tests.billing.test_webhooks import SECRET, event, post
from tests.fixtures.factories import org_of
from tests.fixtures.visitor import submit

YEAR = date.today().year


def refund(payment_intent, refund_id, amount, status="succeeded"):
    """Stripe's fixture ``refund`` object (stripe/openapi fixtures3.json) for our payment."""
    return {"amount": amount, "balance_transaction": None, "charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8",
            "created": 1234567890, "currency": "usd", "destination_details": {"card": {"type": "reversal"},
                                                                              "type": "card"},
            "id": refund_id, "metadata": {}, "object": "refund", "payment_intent": payment_intent, "reason": None,
            "receipt_number": None, "source_transfer_reversal": None, "status": status, "transfer_reversal": None,
            "customer": None, "customer_account": None, "payment_method": None}


def charge(payment_intent, amount_refunded, refunds):
    return {"id": "ch_1PgafuB7WZ01zgkWXYmPNZs8", "object": "charge", "amount": 1071, "amount_captured": 1071,
            "amount_refunded": amount_refunded, "captured": True, "currency": "usd", "paid": True,
            "payment_intent": payment_intent, "refunded": amount_refunded >= 1071, "status": "succeeded",
            "metadata": {}, "refunds": {"object": "list", "data": refunds, "has_more": False,
                                        "url": "/v1/charges/ch_1PgafuB7WZ01zgkWXYmPNZs8/refunds"}}


def german_buyer(make_app, outbox):
    """A consumer in Germany (19 % VAT): the starter pack's invoice is $10.71."""
    app = make_app(STRIPE_WEBHOOK_SECRET=SECRET, **SELLER)
    client = buyer(app, outbox)
    submit(client, "/account/billing", {"name": "Max Muster", "address": "Hauptstr. 1\n10115 Berlin",
                                        "country": "DE", "tax_id": ""})
    buy_and_pay(client)
    with app.app_context():
        order = _db.session.scalar(select(Order))
        assert (order.status, order.amount_cents) == ("paid", 1071)
        return app, client, order.reference, order.payment_intent_id


def words(response) -> str:
    """The page's words, without its tags."""
    assert response.status_code == 200
    return " ".join(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)).split())


def documents(app):
    with app.app_context():
        return [(d.kind, d.number, d.total_cents, d.refers_to_id and _db.session.get(Invoice, d.refers_to_id).number)
                for d in _db.session.scalars(select(Invoice).order_by(Invoice.id))]


def test_a_failed_refund_voids_its_credit_note_and_the_credit_never_exceeds_the_invoice(make_app, outbox, runner):
    app, client, reference, intent = german_buyer(make_app, outbox)
    hook = app.test_client()
    post(hook, event("refund.created", refund(intent, "re_first", 535)))
    for _ in range(2):  # Stripe delivers it twice: one void note
        post(hook, event("refund.failed", refund(intent, "re_first", 535, "failed"), event_id="evt_failed"))
        post(hook, event("charge.refund.updated", refund(intent, "re_first", 535, "failed")))
    post(hook, event("refund.created", refund(intent, "re_second", 1071)))
    invoice, note, void, second = (f"INV-{YEAR}-000001", f"CN-{YEAR}-000001", f"CNV-{YEAR}-000001",
                                   f"CN-{YEAR}-000002")
    assert documents(app) == [("invoice", invoice, 1071, None), ("credit_note", note, 535, invoice),
                              ("void_note", void, 535, note), ("credit_note", second, 1071, invoice)]

    page = words(client.get(f"/account/orders/{reference}"))
    assert f"Credit note {note}" in page and f"void: cancelled by {void}" in page
    assert "Net credited: $10.71 of $10.71" in page
    assert "$16.06" not in page
    voided = words(client.get(f"/account/invoices/{void}"))
    assert "Cancellation of a credit note" in voided and note in voided and "$5.35" in voided
    assert "The refund of credit note" in voided
    assert void in pdf_text(client.get(f"/account/invoices/{void}.pdf"))
    assert "Credited so far: $10.71" in words(client.get(f"/account/invoices/{invoice}"))
    [failed] = [m for m in outbox if "refund of $5.35" in m["Subject"] and "failed" in m["Subject"]]
    told = failed.get_body(("plain",)).get_content()
    assert f"Credit note {note} is void: {void} cancels it." in told and f"/account/invoices/{void}" in told

    staff = _staff(app, runner, outbox)
    staff_page = words(staff.get(f"/staff/orders/{reference}"))
    assert void in staff_page and "Net credited: $10.71" in staff_page
    export = staff.get("/staff/orders.csv").get_data(as_text=True)
    assert void in export
    with app.app_context():
        balance = org_of(_db.session.scalar(select(User).where(User.email == "buyer@example.com"))).credit_balance
    assert balance == 100  # the pack's credits taken back once; the welcome credits stay
    assert "0 mismatches" in app.test_cli_runner().invoke(args=["credits", "verify"]).output


def test_one_of_two_refunds_on_one_credit_note_fails_the_note_is_voided_and_the_rest_reissued(make_app, outbox):
    app, client, reference, intent = german_buyer(make_app, outbox)
    hook = app.test_client()
    both = [refund(intent, "re_a", 300), refund(intent, "re_b", 300)]
    post(hook, event("charge.refunded", charge(intent, 600, both)))
    post(hook, event("refund.failed", refund(intent, "re_b", 300, "failed")))
    invoice, note, void, rest = (f"INV-{YEAR}-000001", f"CN-{YEAR}-000001", f"CNV-{YEAR}-000001",
                                 f"CN-{YEAR}-000002")
    assert documents(app) == [("invoice", invoice, 1071, None), ("credit_note", note, 600, invoice),
                              ("void_note", void, 600, note), ("credit_note", rest, 300, invoice)]
    assert "Net credited: $3.00 of $10.71" in words(client.get(f"/account/orders/{reference}"))


def test_the_migration_voids_the_credit_notes_of_refunds_that_failed_before_it(database_factory):
    """An order from before: $10.71 invoiced, a $5.35 refund that failed (its credit note kept), then
    $10.71 refunded: $16.06 of credit notes. After the upgrade they net to what was refunded."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="d3b7f1a5c9e2-1")
        now, common = utcnow(), {"currency": "USD", "tax_rate": "19", "tax_treatment": "standard", "seller": "{}",
                                 "description": "Starter: 10000 credits", "locale": "en"}
        with _db.engine.begin() as conn:  # no explicit ids: PostgreSQL's sequences must count them
            order_id = conn.execute(text(
                "INSERT INTO orders (reference, pack_id, pack_name, credits, amount_cents, currency, status, "
                "created_at, refunded_cents, charge_refunded_cents, credits_reversed, credit_shortfall, tax_cents) "
                "VALUES ('ORD-OLD1-0001', 'starter', 'Starter', 10000, 1071, 'USD', 'refunded', :now, 1071, "
                "1071, 10000, 0, 171) RETURNING id"), {"now": now}).scalar()
            ids = []
            for kind, number, refers, total, tax, credits in (
                    ("invoice", f"INV-{YEAR}-000001", None, 1071, 171, 10000),
                    ("credit_note", f"CN-{YEAR}-000001", 0, 535, 85, 4996),
                    ("credit_note", f"CN-{YEAR}-000002", 0, 1071, 171, 10000)):
                ids.append(conn.execute(text(
                    "INSERT INTO invoices (kind, number, order_id, refers_to_id, issued_at, currency, net_cents, "
                    "tax_cents, total_cents, tax_rate, tax_treatment, seller, description, credits, locale) VALUES "
                    "(:kind, :number, :order, :refers, :now, :currency, :net, :tax, :total, :tax_rate, "
                    ":tax_treatment, :seller, :description, :credits, :locale) RETURNING id"),
                    {"kind": kind, "number": number, "order": order_id, "refers": None if refers is None else ids[0],
                     "now": now, "net": total - tax, "tax": tax, "total": total, "credits": credits,
                     **common}).scalar())
            conn.execute(text("INSERT INTO invoice_sequences (kind, year, last) VALUES ('invoice', :y, 1), "
                              "('credit_note', :y, 2)"), {"y": YEAR})
        upgrade(revision="d3b7f1a5c9e2")
        with _db.engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, number, total_cents, refers_to_id FROM invoices ORDER BY id")).all()
        _db.engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("invoice", f"INV-{YEAR}-000001", 1071, None), ("credit_note", f"CN-{YEAR}-000001", 535, ids[0]),
        ("credit_note", f"CN-{YEAR}-000002", 1071, ids[0]), ("void_note", f"CNV-{YEAR}-000001", 1071, ids[2]),
        ("credit_note", f"CN-{YEAR}-000003", 536, ids[0])]
    # Standing: 535 + 536 = 1,071, what was refunded (the newest note was voided, the rest credited again).
