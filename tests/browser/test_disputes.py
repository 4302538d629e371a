"""A disputed payment as its buyer sees it in a real browser: the order page explains the held
credits and the balance below zero, and neither page has a serious accessibility violation."""

import hashlib
import json
import urllib.request

import pytest
import stripe
from axe_playwright_python.sync_playwright import Axe

from app.auth.models import User
from app.billing import services
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.billing.test_disputes import dispute
from tests.fixtures.factories import UserFactory, org_of
from tests.fixtures.visitor import PASSWORD_FOR_TESTS

pytestmark = pytest.mark.browser

# The live server's demo webhook secret (billing.gateway.webhook_secret from its SECRET_KEY).
SECRET = "whsec_dev_" + hashlib.sha256(b"demo-webhooks:" + ("browser-tests-only-" + "x" * 24).encode()).hexdigest()


def deliver(url: str, payload: dict) -> None:
    body = json.dumps(payload)
    request = urllib.request.Request(url + "/billing/webhook", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, SECRET)})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        assert response.status == 200


def test_a_disputed_order_explains_the_held_credits_accessibly(browser, live_server, make_app):
    app = make_app()
    with app.app_context():
        user = UserFactory(email="disputed-buyer@example.com",
                           accepted_privacy_version=app.config["PRIVACY_POLICY_VERSION"],
                           accepted_terms_version=app.config["TERMS_VERSION"])
        order = services.create_order(org_of(user), _db.session.get(User, user.id), "starter", app.config["PRICING"],
                                      utcnow())
        order.checkout_session_id = "cs_test_browser_dispute"
        _db.session.commit()
        reference = order.reference
    deliver(live_server, {"id": "evt_browser_paid", "object": "event", "type": "checkout.session.completed",
                          "data": {"object": {"object": "checkout.session", "id": "cs_test_browser_dispute",
                                              "client_reference_id": reference, "payment_status": "paid",
                                              "metadata": {"order_reference": reference},
                                              "payment_intent": "pi_browser_dispute"}}})
    deliver(live_server, {"id": "evt_browser_dispute", "object": "event", "type": "charge.dispute.created",
                          "data": {"object": {**dispute(payment_intent="pi_browser_dispute"), "id": "dp_browser"}}})
    context = browser.new_context(viewport={"width": 1280, "height": 844}, locale="en-GB")
    page = context.new_page()
    axe = Axe()
    try:
        page.goto(live_server + "/login")
        page.locator("input[name=email]").fill("disputed-buyer@example.com")
        page.locator("input[name=password]").fill(PASSWORD_FOR_TESTS)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(live_server + f"/account/orders/{reference}")
        assert page.get_by_role("heading", name="Payment disputed").is_visible()
        assert page.get_by_text("10,000 credits are held until the dispute is decided").is_visible()
        for path in (f"/account/orders/{reference}", "/account/orders"):
            page.goto(live_server + path)
            serious = [v["id"] for v in axe.run(page).response["violations"] if v["impact"] in ("serious", "critical")]
            assert serious == [], f"{path}: {serious}"
    finally:
        context.close()
