"""Buying credits: checkout through Stripe (fake transport) and through the demo checkout."""

import re
from datetime import UTC, timedelta

from sqlalchemy import select, update

from app.billing.gateway import StripeGateway
from app.billing.models import Order
from app.extensions import db as _db
from app.organisations.models import Organisation
from app.timeutil import utcnow
from tests.billing.fakes import FakeStripeHTTP
from tests.fixtures.visitor import AuthActions, submit


def _buyer(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    return auth


def _buy(client, pack="starter"):
    return submit(client, "/account", {"pack": pack}, action="/billing/checkout")


def test_checkout_sends_amount_currency_reference_idempotency_key_and_urls_to_stripe(make_app, outbox):
    app = make_app(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET="whsec_test")
    fake = FakeStripeHTTP()
    app.extensions["payment_gateway"] = StripeGateway("sk_test_fake", http_client=fake)
    client = app.test_client()
    _buyer(client, outbox)
    response = _buy(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_fake123"
    [sent] = fake.requests
    form, headers = sent["form"], sent["headers"]
    with app.app_context():
        order = _db.session.scalar(select(Order))
    assert re.fullmatch(r"ORD-[2-9A-Z]{4}-[2-9A-Z]{4}", order.reference)
    assert (order.status, order.amount_cents, order.currency, order.credits) == ("pending", 900, "USD", 10_000)
    assert order.checkout_session_id == "cs_test_fake123"
    assert form["line_items[0][price_data][unit_amount]"] == "900"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["client_reference_id"] == order.reference
    assert form["metadata[order_reference]"] == order.reference
    assert form["customer_email"] == "alice@example.com"
    org = order.organisation_id  # the return names the organisation, which the buyer may have left meanwhile
    assert form["success_url"] == f"http://127.0.0.1:5000/billing/return?org={org}&session_id={{CHECKOUT_SESSION_ID}}"
    assert form["cancel_url"] == f"http://127.0.0.1:5000/account/orders?org={org}"
    assert headers["Idempotency-Key"] == f"checkout-{order.reference}"
    assert not any("card" in key for key in form)


def test_csp_lets_the_checkout_form_go_to_stripe_only_when_configured(make_app):
    stripe_app = make_app(STRIPE_SECRET_KEY="sk_test_fake")
    assert "form-action 'self' https://checkout.stripe.com" in stripe_app.test_client().get("/").headers[
        "Content-Security-Policy"]
    demo_app = make_app()
    assert "form-action 'self';" in demo_app.test_client().get("/").headers["Content-Security-Policy"]


def test_unverified_customers_cannot_buy(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register(verify=False)
    auth.login()
    response = _buy(client)
    assert response.status_code == 303
    with app.app_context():
        assert _db.session.scalars(select(Order)).all() == []


def test_unknown_pack_is_a_400(client, outbox):
    _buyer(client, outbox)
    assert _buy(client, "platinum").status_code == 400


def test_demo_checkout_pay_grants_credits_once(app, client, outbox):
    _buyer(client, outbox)
    start_balance = app.config["PRICING"].signup_credits
    response = _buy(client)
    demo_url = response.headers["Location"]
    assert demo_url.startswith("/billing/demo/cs_demo_")
    page = client.get(demo_url).get_data(as_text=True)
    assert "Demo: no real payment." in page
    paid = submit(client, demo_url, {"choice": "pay"})
    assert paid.status_code == 303
    body = client.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Payment complete" in body
    assert f"{start_balance + 10_000:,} credits" in body
    again = submit(client, demo_url, {"choice": "pay"})  # a paid session takes no second choice
    assert again.status_code == 409
    with app.app_context():
        order = _db.session.scalar(select(Order))
        assert order.status == "paid"
        assert _db.session.scalar(select(Organisation.credit_balance)) == start_balance + 10_000


def test_demo_fail_and_cancel(app, client, outbox):
    _buyer(client, outbox)
    first = _buy(client).headers["Location"]
    submit(client, first, {"choice": "fail"})
    second = _buy(client).headers["Location"]
    assert submit(client, second, {"choice": "cancel"}).headers["Location"] == "/account/orders"
    with app.app_context():
        assert [o.status for o in _db.session.scalars(select(Order).order_by(Order.id))] == ["failed", "expired"]


def test_orders_page_and_printable_receipt(app, client, outbox):
    _buyer(client, outbox)
    demo_url = _buy(client).headers["Location"]
    submit(client, demo_url, {"choice": "pay"})
    with app.app_context():
        reference = _db.session.scalar(select(Order.reference))
    listing = client.get("/account/orders").get_data(as_text=True)
    assert reference in listing and "$9.00" in listing and "paid" in listing
    receipt = client.get(f"/account/orders/{reference}").get_data(as_text=True)
    assert "Receipt" in receipt and "10,000 credits" in receipt
    client.get("/language/zh_Hans?next=/")
    chinese = client.get("/account/orders").get_data(as_text=True)
    assert "订单" in chinese


def test_another_customers_order_is_not_found(app, client, outbox):
    """Another customer works in their own organisation: the order, its checkout and its return
    page are not found there."""
    _buyer(client, outbox)
    submit(client, _buy(client).headers["Location"], {"choice": "pay"})
    with app.app_context():
        reference = _db.session.scalar(select(Order.reference))
    other = app.test_client()
    AuthActions(other, outbox).register("bob@example.com")
    AuthActions(other, outbox).login("bob@example.com")
    assert other.get(f"/account/orders/{reference}").status_code == 404
    assert reference not in other.get("/account/orders").get_data(as_text=True)
    with app.app_context():
        session_id = _db.session.scalar(select(Order.checkout_session_id))
    assert other.get(f"/billing/demo/{session_id}").status_code == 404
    assert other.get(f"/billing/return?session_id={session_id}").status_code == 404


def _stripe_app(make_app):
    """An app with Stripe configured, its servers stood in for by the fake transport."""
    app = make_app(STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET="whsec_test")
    fake = FakeStripeHTTP()
    app.extensions["payment_gateway"] = StripeGateway("sk_test_fake", http_client=fake)
    return app, fake


def test_chinese_buyers_are_offered_alipay_and_wechat_pay_and_every_session_expires(make_app, outbox):
    app, fake = _stripe_app(make_app)
    client = app.test_client()
    _buyer(client, outbox)
    _buy(client)  # in English: no methods pinned, Checkout offers what the Stripe account enabled
    english = fake.requests[-1]["form"]
    assert not any(key.startswith("payment_method_types") for key in english)
    client.get("/language/zh_Hans?next=/")
    _buy(client)
    chinese = fake.requests[-1]["form"]
    assert [chinese[f"payment_method_types[{i}]"] for i in range(3)] == ["card", "alipay", "wechat_pay"]
    assert chinese["payment_method_options[wechat_pay][client]"] == "web"
    assert chinese["locale"] == "zh"
    with app.app_context():
        orders = list(_db.session.scalars(select(Order).order_by(Order.id)))
    for form, order in zip((english, chinese), orders, strict=True):
        expected = int(order.expires_at.replace(tzinfo=UTC).timestamp())
        assert int(form["expires_at"]) == expected
        assert timedelta(minutes=59) < order.expires_at - order.created_at <= timedelta(minutes=60)
    assert "Alipay" in client.get("/pricing").get_data(as_text=True) or "支付宝" in client.get(
        "/pricing").get_data(as_text=True)


def test_an_unpaid_order_ends_by_the_job_and_its_session_offers_nothing_more(app, client, outbox, runner):
    _buyer(client, outbox)
    demo_url = _buy(client).headers["Location"]
    assert "Pay" in client.get(demo_url).get_data(as_text=True)
    with app.app_context():
        _db.session.execute(update(Order).values(expires_at=utcnow() - timedelta(minutes=1)))
        _db.session.commit()
    assert "orders expired: 1" in runner.invoke(args=["orders", "expire"]).output
    assert "orders expired: 0" in runner.invoke(args=["orders", "expire"]).output
    page = client.get(demo_url).get_data(as_text=True)
    assert 'value="pay"' not in page and "cancelled" in page
    assert submit(client, demo_url, {"choice": "pay"}).status_code in (400, 409)
    with app.app_context():
        order = _db.session.scalar(select(Order))
        assert order.status == "expired"
        balance = _db.session.scalar(select(Organisation.credit_balance))
    assert balance == app.config["PRICING"].signup_credits  # no credits
    receipt = client.get(f"/account/orders/{order.reference}").get_data(as_text=True)
    assert "This is not a receipt" in receipt and "<h1>Receipt</h1>" not in receipt


def test_a_paid_demo_session_offers_pay_fail_and_cancel_no_more(app, client, outbox):
    _buyer(client, outbox)
    demo_url = _buy(client).headers["Location"]
    submit(client, demo_url, {"choice": "pay"})
    page = client.get(demo_url).get_data(as_text=True)
    assert 'value="fail"' not in page and 'value="cancel"' not in page and "paid" in page
    assert submit(client, demo_url, {"choice": "cancel"}).status_code in (400, 409)
    with app.app_context():
        assert _db.session.scalar(select(Order.status)) == "paid"


def test_pack_names_are_shown_in_the_readers_language(app, client, outbox, runner):
    _buyer(client, outbox)
    client.get("/language/zh_Hans?next=/")
    submit(client, _buy(client).headers["Location"], {"choice": "pay"})
    with app.app_context():
        order = _db.session.scalar(select(Order))
    assert (order.pack_id, order.pack_name) == ("starter", "Starter")  # the record keeps the code
    assert "入门版" in client.get("/account/orders").get_data(as_text=True)
    client.get("/language/en?next=/")
    listing = client.get("/account/orders").get_data(as_text=True)
    assert "Starter" in listing and "入门版" not in listing
