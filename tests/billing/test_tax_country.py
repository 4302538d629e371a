"""VAT by the buyer's country: asked before checkout (prefilled from the billing details), shown as
subtotal, tax and total before paying, and settled by the billing address Stripe confirms. Stripe's
servers are the only part not running here: outbound calls go to the fake transport, its events
are signed as Stripe signs them, shaped like Stripe's checkout.session fixture."""

import html
import io
import json
import re

import stripe
from pypdf import PdfReader
from sqlalchemy import select

from app.billing.gateway import StripeGateway
from app.billing.models import Invoice, Order
from app.extensions import db as _db
from tests.billing.fakes import FakeStripeHTTP
from tests.fixtures.visitor import AuthActions, form_token, submit

SELLER = {"SELLER_NAME": "TwtAPI GmbH", "SELLER_ADDRESS": "Invalidenstraße 1\\n10115 Berlin",
          "SELLER_COUNTRY": "DE", "SELLER_TAX_ID": "DE136695976", "TAX_RATES": "DE:19,FR:20,GB:20"}
WHSEC = "whsec_test_country"


def stripe_app(make_app):
    app = make_app(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET=WHSEC, **SELLER)
    fake = FakeStripeHTTP()
    app.extensions["payment_gateway"] = StripeGateway("sk_test_fake", http_client=fake)
    return app, fake


def buyer(app, outbox, email="buyer@example.com", language=None):
    client = app.test_client()
    AuthActions(client, outbox).register(email)
    AuthActions(client, outbox).login(email)
    if language:
        client.get(f"/language/{language}?next=/")
    return client


def review(client, pack="starter", **fields):
    """Open the order page and post it as the buyer would (its CSRF token and hidden fields)."""
    page = client.get(f"/billing/checkout?pack={pack}").get_data(as_text=True)
    shown = re.search(r'name="shown"[^>]*value="([^"]*)"', page) or re.search(r'value="([^"]*)"[^>]*name="shown"', page)
    data = {"csrf_token": form_token(page), "pack": pack, "shown": shown.group(1) if shown else "", **fields}
    return client.post("/billing/checkout", data=data, headers={"Origin": "http://localhost"})


def totals(page: str) -> dict:
    return {name: html.unescape(value) for name, value in
            re.findall(r'data-total="(\w+)">(?:<strong>)?([^<]+)<', page)}


def completed(order: Order, country: str, **details) -> str:
    """A checkout.session.completed event as Stripe sends it, with the address the buyer confirmed."""
    address = {"line1": details.pop("line1", "1 Example Road"), "line2": None, "city": details.pop("city", "Town"),
               "postal_code": "12345", "state": None, "country": country}
    return json.dumps({"id": f"evt_{order.reference}", "object": "event", "type": "checkout.session.completed",
                       "data": {"object": {
                           "id": order.checkout_session_id, "object": "checkout.session",
                           "client_reference_id": order.reference, "metadata": {"order_reference": order.reference},
                           "amount_subtotal": order.amount_cents, "amount_total": order.amount_cents,
                           "currency": order.currency.lower(), "payment_status": "paid", "status": "complete",
                           "payment_intent": f"pi_{order.reference}", "payment_method_types": ["card"],
                           "customer_details": {"email": "buyer@example.com", "name": details.pop("name", "A Buyer"),
                                                "address": address, "tax_exempt": "none",
                                                "tax_ids": details.pop("tax_ids", [])}}}})


def deliver(client, body: str) -> None:
    signature = stripe.WebhookSignature.generate_signature_header(body, WHSEC)
    answer = client.post("/billing/webhook", data=body, headers={"Stripe-Signature": signature},
                         content_type="application/json")
    assert answer.status_code == 200, answer.get_data(as_text=True)


def only_order(app) -> Order:
    with app.app_context():
        order = _db.session.scalar(select(Order))
        _db.session.expunge(order)
        return order


def invoice_pdf(client) -> str:
    with client.application.app_context():
        number = _db.session.scalar(select(Invoice.number))
    response = client.get(f"/account/invoices/{number}.pdf")
    assert response.status_code == 200
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_order_page_shows_subtotal_tax_and_total_before_the_buyer_pays(make_app, outbox):
    app, fake = stripe_app(make_app)
    client = buyer(app, outbox)
    submit(client, "/account/billing", {"name": "Max Muster", "address": "Hauptstr. 1\n80331 München",
                                        "country": "DE", "tax_id": ""})
    dashboard = client.get("/account").get_data(as_text=True)
    assert 'action="/billing/checkout"' in dashboard and 'method="get"' in dashboard
    page = client.get("/billing/checkout?pack=starter").get_data(as_text=True)
    assert re.search(r'<option selected value="DE">|<option value="DE" selected>', page)  # from the billing details
    assert totals(page) == {"subtotal": "$9.00", "tax": "$1.71", "total": "$10.71"} and "VAT 19 %" in page
    assert fake.requests == []  # nothing is sent to Stripe before the buyer has seen the total
    # The buyer picks France and presses Pay at once: the French total is shown first, nothing is ordered.
    changed = review(client, country="FR", action="pay")
    assert changed.status_code == 200
    assert totals(changed.get_data(as_text=True)) == {"subtotal": "$9.00", "tax": "$1.80", "total": "$10.80"}
    with app.app_context():
        assert _db.session.scalar(select(Order)) is None
    paid = review(client, country="FR", shown="FR", action="pay")
    assert paid.status_code == 303 and paid.headers["Location"].startswith("https://checkout.stripe.com/")
    form = fake.requests[-1]["form"]
    assert (form["line_items[0][price_data][unit_amount]"], form["line_items[1][price_data][unit_amount]"]) == (
        "900", "180")
    assert form["billing_address_collection"] == "required"
    order = only_order(app)
    assert (order.buyer_country, order.tax_cents, order.amount_cents) == ("FR", 180, 1080)
    assert order.buyer_address is None  # the saved address is in Germany: Stripe's confirmed one will do


def test_a_buyer_who_chose_france_but_confirmed_another_country_is_invoiced_by_that_countrys_rule(make_app, outbox):
    app, fake = stripe_app(make_app)
    client = buyer(app, outbox)
    review(client, country="FR", shown="FR", action="pay")
    order = only_order(app)
    assert (order.buyer_country, order.tax_rate, order.amount_cents) == ("FR", "20", 1080)
    deliver(client, completed(order, "DE", name="Max Muster", line1="Hauptstr. 1", city="München"))
    with app.app_context():
        invoice = _db.session.scalar(select(Invoice))
        assert (invoice.buyer_country, invoice.tax_treatment, invoice.tax_rate) == ("DE", "standard", "19")
        # What was paid stays the total; the German rule's VAT is the share of it.
        assert (invoice.net_cents, invoice.tax_cents, invoice.total_cents) == (908, 172, 1080)
    text = invoice_pdf(client)
    assert "VAT 19 %" in text and "VAT 20 %" not in text and "Hauptstr. 1" in text and "$10.80" in text


def test_billing_details_in_france_but_stripe_confirms_the_us_no_french_vat(make_app, outbox):
    app, fake = stripe_app(make_app)
    client = buyer(app, outbox)
    submit(client, "/account/billing", {"name": "Exemple SARL", "address": "12 rue de la Paix\n75002 Paris",
                                        "country": "FR", "tax_id": ""})
    submit(client, "/account", {"pack": "starter"}, action="/billing/checkout")  # an older page: no country field
    order = only_order(app)
    assert (order.buyer_country, order.tax_cents) == ("FR", 180)
    deliver(client, completed(order, "US", name="Example Inc."))
    with app.app_context():
        invoice = _db.session.scalar(select(Invoice))
        assert (invoice.buyer_country, invoice.tax_treatment, invoice.tax_cents, invoice.total_cents) == (
            "US", "none", 0, 1080)
    assert "VAT 20 %" not in invoice_pdf(client)


def test_a_chinese_customers_first_order_carries_no_german_vat(make_app, outbox):
    app, fake = stripe_app(make_app)
    client = buyer(app, outbox, email="wang@example.cn", language="zh_Hans")
    page = client.get("/billing/checkout?pack=starter").get_data(as_text=True)
    assert "$1.71" not in page and "19" not in "".join(totals(page).values())  # no country yet: no tax guessed
    # The order page asks first; a post from an older page (no country) guesses no German VAT either.
    submit(client, "/account", {"pack": "starter"}, action="/billing/checkout")
    order = only_order(app)
    assert (order.buyer_country, order.tax_cents, order.amount_cents) == (None, 0, 900)
    assert "line_items[1][price_data][unit_amount]" not in fake.requests[-1]["form"]
    deliver(client, completed(order, "CN", name="王先生", line1="建国路 1 号", city="北京"))
    with app.app_context():
        invoice = _db.session.scalar(select(Invoice))
        assert (invoice.buyer_country, invoice.tax_treatment, invoice.tax_cents, invoice.total_cents) == (
            "CN", "none", 0, 900)
    chosen = review(client, country="CN", action="update")
    assert totals(chosen.get_data(as_text=True)) == {"subtotal": "US$9.00", "tax": "US$0.00", "total": "US$9.00"}


def test_the_tax_id_hints_own_example_is_accepted(make_app, outbox):
    app = make_app(**SELLER)
    client = buyer(app, outbox)
    page = html.unescape(client.get("/account/billing").get_data(as_text=True))
    example = re.search(r"EU or UK VAT number \(([A-Z]{2}[0-9A-Z]+)\)", page).group(1)
    saved = submit(client, "/account/billing", {"name": "Beispiel GmbH", "address": "Hauptstr. 1\n10115 Berlin",
                                                "country": example[:2], "tax_id": example}, follow_redirects=True)
    assert "Billing details saved" in saved.get_data(as_text=True), example


def test_the_order_page_refuses_what_a_client_makes_up_without_a_500(make_app, outbox):
    app, fake = stripe_app(make_app)
    client = buyer(app, outbox)
    assert client.get("/billing/checkout?pack=platinum").status_code == 404
    assert client.get("/billing/checkout").headers["Location"] == "/account#buy"  # no pack: choose one
    assert review(client, country="XX", shown="XX", action="pay").status_code == 400
    assert review(client, pack="platinum", country="FR", shown="FR", action="pay").status_code == 400
    assert fake.requests == []
