"""Buying credits in demo mode, in a real browser."""

import re

import pytest

pytestmark = pytest.mark.browser


def test_buy_a_pack_in_demo_mode_and_see_the_paid_order_and_balance(page, live_server, runner):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("demo@twtapi.com")
    page.get_by_label("Password").fill("sample-customer-2025-twtapi")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello, Demo").wait_for()

    page.get_by_role("button", name="Buy Starter").click()
    # The order page asks for the country before payment (no billing details to prefill it) and
    # shows the subtotal, the tax and the total for it.
    page.get_by_label("Your country").select_option("DE")
    page.get_by_role("button", name="Show the total for this country").click()
    assert page.get_by_role("cell", name="$10.71").is_visible()
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_text("Demo: no real payment.").wait_for()
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("heading", name="Payment complete").wait_for()
    assert page.get_by_text("Your balance is now 20,000 credits.").is_visible()

    page.get_by_role("link", name="See the receipt").click()
    assert page.get_by_role("heading", name="Receipt").is_visible()
    # Germany chosen before paying: German VAT (development's rates, DE 19 %).
    assert page.get_by_text("The amount includes VAT of $1.71 (19 %).").is_visible()
    assert page.get_by_role("link", name=re.compile(r"^INV-\d{4}-\d{6}$")).is_visible()
    page.goto(live_server + "/account/orders")
    assert page.get_by_role("cell", name="paid").is_visible()
