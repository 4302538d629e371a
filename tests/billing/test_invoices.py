"""Invoices and credit notes as a business customer, staff and an accountant see them: billing
details with checked tax ids, the tax of every case, gap-free numbers under concurrent payments,
the PDF (read back with pypdf) in English and Chinese, the e-mails that carry them. Stripe's servers
are the only part not running here: its events are signed as Stripe signs them, and outbound calls
go to the fake transport."""

import io
import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import stripe
from pypdf import PdfReader
from sqlalchemy import func, select

from app.auth.models import User
from app.billing import services, tax
from app.billing.gateway import StripeGateway
from app.billing.models import BillingDetails, Invoice, Order
from app.extensions import db as _db
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.billing.fakes import FakeStripeHTTP
from tests.billing.test_staff import _staff
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, submit

SELLER = {"SELLER_NAME": "TwtAPI GmbH", "SELLER_ADDRESS": "Invalidenstraße 1\\n10115 Berlin",
          "SELLER_COUNTRY": "DE", "SELLER_TAX_ID": "DE136695976", "TAX_RATES": "DE:19,FR:20,GB:20,CN:6"}
FR_VAT = "FR40303265045"
YEAR = date.today().year


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)


def local(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def buyer(app, outbox, email="buyer@example.com", language=None):
    client = app.test_client()
    AuthActions(client, outbox).register(email)
    AuthActions(client, outbox).login(email)
    if language:
        client.get(f"/language/{language}?next=/")
    return client


def buy_and_pay(client) -> str:
    demo = submit(client, "/account", {"pack": "starter"}, action="/billing/checkout").headers["Location"]
    assert submit(client, demo, {"choice": "pay"}).status_code == 303
    return demo


def test_a_business_buys_with_its_vat_id_gets_an_invoice_and_a_credit_note_for_a_partial_refund(make_app, outbox,
                                                                                                  runner):
    app = make_app(**SELLER)
    client = buyer(app, outbox)
    saved = submit(client, "/account/billing", {"name": "Exemple SARL", "address": "12 rue de la Paix\n75002 Paris",
                                                 "country": "FR", "tax_id": "fr 40 303 265 045"}, follow_redirects=True)
    assert "Billing details saved" in saved.get_data(as_text=True)
    assert "reverse charge applies" in client.get("/account/billing").get_data(as_text=True)
    outbox.clear()
    buy_and_pay(client)
    with app.app_context():
        order = _db.session.scalar(select(Order))
        assert (order.buyer_tax_id, order.tax_treatment, order.tax_cents, order.amount_cents) == (
            FR_VAT, "reverse_charge", 0, 900)
    [receipt] = [m for m in outbox if "receipt" in m["Subject"]]
    number = f"INV-{YEAR}-000001"
    assert number in receipt["Subject"]
    text = receipt.get_body(("plain",)).get_content()
    pdf_url = re.search(r"(http\S+/account/invoices/\S+\.pdf)", text).group(1)
    invoice = pdf_text(client.get(local(pdf_url)))
    for expected in (number, "TwtAPI GmbH", "DE136695976", "Exemple SARL", FR_VAT, "$9.00", "reverse charge"):
        assert expected in invoice, expected
    page = client.get(f"/account/orders/{order.reference}").get_data(as_text=True)
    assert number in page and "Receipt" in page
    staff = _staff(app, runner, outbox)
    outbox.clear()
    submit(staff, f"/staff/orders/{order.reference}", {"amount": "3.00", "reason": "outage", "confirmed": "yes"})
    [refund_mail] = [m for m in outbox if m["To"] == "buyer@example.com"]
    note_number = f"CN-{YEAR}-000001"
    assert note_number in refund_mail.get_body(("plain",)).get_content()
    note = pdf_text(client.get(f"/account/invoices/{note_number}.pdf"))
    assert "Credit note" in note and number in note and "-$3.00" in note
    assert note_number in staff.get(f"/staff/orders/{order.reference}").get_data(as_text=True)
    assert pdf_text(staff.get(f"/staff/invoices/{number}.pdf"))  # staff read the same documents


@pytest.mark.parametrize(("country", "tax_id", "treatment", "tax_cents"), [
    ("DE", "DE136695976", "standard", 171),  # a business in the seller's own country pays VAT
    ("FR", None, "standard", 180),  # a consumer in another member state: its rate
    ("FR", FR_VAT, "reverse_charge", 0),  # a business there: reverse charge
    ("FR", "FR00000000000", "standard", 180),  # a VAT number that fails its check digits: no reverse charge
    ("GB", "GB980780684", "standard", 180),  # outside the EU: no reverse charge, the UK rate
    ("CN", "91110000600037341L", "standard", 54),
    ("US", None, "none", 0),  # no rate configured: no tax, and the invoice says so
    (None, None, "none", 0),  # country not known: no tax guessed (never the seller's VAT)
])
def test_every_tax_case(country, tax_id, treatment, tax_cents):
    result = tax.tax_for(900, country, tax_id, "DE", tax.parse_rates(SELLER["TAX_RATES"]))
    assert (result.treatment, result.tax_cents, result.total_cents) == (treatment, tax_cents, 900 + tax_cents)


def test_tax_is_added_to_the_order_and_sent_to_checkout_as_its_own_line(make_app, outbox):
    app = make_app(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET="whsec_test", **SELLER)
    fake = FakeStripeHTTP()
    app.extensions["payment_gateway"] = StripeGateway("sk_test_fake", http_client=fake)
    client = buyer(app, outbox)
    submit(client, "/account/billing", {"name": "Max Muster", "address": "Hauptstr. 1\n80331 München",
                                        "country": "DE", "tax_id": ""})
    submit(client, "/account", {"pack": "starter"}, action="/billing/checkout")
    form = fake.requests[-1]["form"]
    assert form["line_items[0][price_data][unit_amount]"] == "900"
    assert form["line_items[1][price_data][unit_amount]"] == "171"
    assert form["line_items[1][price_data][product_data][name]"] == "VAT 19 %"
    assert form["tax_id_collection[enabled]"] == "true" and form["invoice_creation[enabled]"] == "true"
    with app.app_context():
        assert _db.session.scalar(select(Order.amount_cents)) == 1071


def test_bad_billing_details_get_a_message_and_nothing_is_stored(make_app, outbox):
    app = make_app(**SELLER)
    client = buyer(app, outbox)
    for fields, message in (({"tax_id": "DE136695977"}, "not a valid tax id"),
                            ({"country": "XX"}, "Not a valid choice"), ({"name": ""}, "Enter the name"),
                            ({"tax_id": "<script>"}, "not a valid tax id")):
        data = {"name": "A", "address": "B", "country": "DE", **fields}
        response = submit(client, "/account/billing", data)
        assert response.status_code == 400 and message in response.get_data(as_text=True), fields
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(BillingDetails)) == 0


def test_a_chinese_buyers_invoice_is_in_chinese(make_app, outbox):
    app = make_app(**SELLER)
    client = buyer(app, outbox, language="zh_Hans")
    submit(client, "/account/billing", {"name": "北京示例科技有限公司", "address": "北京市朝阳区建国路 1 号",
                                        "country": "CN", "tax_id": "91110000600037341L"})
    buy_and_pay(client)
    text = pdf_text(client.get(f"/account/invoices/INV-{YEAR}-000001.pdf"))
    for expected in ("发票", f"INV-{YEAR}-000001", "北京示例科技有限公司", "91110000600037341L", "入门版", "中国"):
        assert expected in text, expected


def test_another_customers_invoice_is_not_found(make_app, outbox):
    app = make_app(**SELLER)
    buy_and_pay(buyer(app, outbox))
    other = buyer(app, outbox, email="other@example.com")
    assert other.get(f"/account/invoices/INV-{YEAR}-000001").status_code == 404
    assert other.get(f"/account/invoices/INV-{YEAR}-000001.pdf").status_code == 404


def test_what_checkout_collected_completes_the_order_and_a_late_failure_is_mailed(make_app, outbox):
    """Stripe-shaped checkout.session objects (the fields of Stripe's fixtures) through the webhook."""
    app = make_app(STRIPE_WEBHOOK_SECRET="whsec_test", **SELLER)
    client = app.test_client()
    org_id, _secret = make_customer(app, "shop@example.com", credits=0)
    with app.test_request_context():
        shop = _db.session.scalar(select(User).where(User.email == "shop@example.com"))
        paid, failed = (services.create_order(_db.session.get(Organisation, org_id), shop, "starter",
                                              app.config["PRICING"], utcnow()) for _ in range(2))
        paid.checkout_session_id, failed.checkout_session_id = "cs_test_a", "cs_test_b"
        _db.session.commit()
        references = paid.reference, failed.reference
    details = {"email": "shop@example.com", "name": "Shop Ltd", "tax_exempt": "none",
               "address": {"line1": "1 High St", "line2": None, "city": "London", "postal_code": "EC1A 1BB",
                           "state": None, "country": "GB"}, "tax_ids": [{"type": "gb_vat", "value": "GB980780684"}]}
    for event_id, kind, session, reference, status in (
            ("evt_1", "checkout.session.completed", "cs_test_a", references[0], "paid"),
            ("evt_2", "checkout.session.async_payment_failed", "cs_test_b", references[1], "unpaid")):
        body = json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": {
            "id": session, "object": "checkout.session", "client_reference_id": reference, "payment_status": status,
            "payment_method_types": ["card"], "customer_details": details, "metadata": {"order_reference": reference},
            "payment_intent": f"pi_{session}"}}})
        signature = stripe.WebhookSignature.generate_signature_header(body, "whsec_test")
        answer = client.post("/billing/webhook", data=body, headers={"Stripe-Signature": signature,
                                                                     "Content-Type": "application/json"})
        assert answer.status_code == 200
    with app.app_context():
        order = _db.session.scalar(select(Order).where(Order.reference == references[0]))
        assert (order.buyer_name, order.buyer_country, order.buyer_tax_id, order.payment_method) == (
            "Shop Ltd", "GB", "GB980780684", "card")
        assert order.buyer_address == "1 High St\nEC1A 1BB London"
        invoice = _db.session.scalar(select(Invoice))
        assert (invoice.buyer_name, invoice.buyer_tax_id) == ("Shop Ltd", "GB980780684")
    failures = [m for m in outbox if "did not go through" in m["Subject"]]
    assert len(failures) == 1 and references[1] in failures[0]["Subject"]


def post_event(url: str, payload: dict) -> int:
    body = json.dumps(payload)
    request = urllib.request.Request(url + "/billing/webhook", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, "whsec_race")})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_twenty_payments_at_once_take_twenty_consecutive_invoice_numbers(make_app, serve):
    """Real concurrent clients against gunicorn (2 workers x 8 threads), on SQLite as on
    PostgreSQL: no number twice, none skipped."""
    app = make_app(STRIPE_WEBHOOK_SECRET="whsec_race")
    references = []
    with app.test_request_context():
        for n in range(20):
            org_id, _ = make_customer(app, f"payer{n}@example.com", credits=0)
            payer = _db.session.scalar(select(User).where(User.email == f"payer{n}@example.com"))
            order = services.create_order(_db.session.get(Organisation, org_id), payer, "starter",
                                          app.config["PRICING"], utcnow())
            order.checkout_session_id = f"cs_test_race_{n}"
            references.append(order.reference)
        _db.session.commit()
    url = serve(STRIPE_WEBHOOK_SECRET="whsec_race")
    events = [{"id": f"evt_pay_{n}", "object": "event", "type": "checkout.session.completed", "data": {"object": {
        "object": "checkout.session", "id": f"cs_test_race_{n}", "client_reference_id": ref, "payment_status": "paid",
        "metadata": {"order_reference": ref}, "payment_intent": f"pi_race_{n}"}}} for n, ref in enumerate(references)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(lambda e: post_event(url, e), events)) == [200] * 20
    with app.app_context():
        numbers = sorted(_db.session.scalars(select(Invoice.number).where(Invoice.kind == "invoice")))
    assert numbers == [f"INV-{YEAR}-{n:06d}" for n in range(1, 21)]
