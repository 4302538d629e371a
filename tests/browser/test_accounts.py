"""A new customer's first minutes, in a real browser: sign up, confirm, sign in, sessions, sign out."""

import re

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def _link(outbox, to: str, path: str) -> str:
    message = next(m for m in reversed(outbox) if m["To"] == to)
    text = message.get_body(("plain",)).get_content()
    return re.search(r"(https?://\S+" + re.escape(path) + r"\S+)", text).group(1)


def test_sign_up_confirm_sign_in_see_session_and_sign_out(page, context, live_server, outbox):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Register").click()
    assert context.cookies() == []  # the sign-up form itself sets no cookie
    page.get_by_label("E-mail address").fill("browser.user@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Nickname (optional)").fill("Browser")
    page.get_by_label("I am at least 16 years old.").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    page.goto(_link(outbox, "browser.user@example.com", "/verify-email/"))
    page.get_by_text("is confirmed").wait_for()

    page.get_by_label("E-mail address").fill("browser.user@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello, Browser").wait_for()
    assert [c["name"] for c in context.cookies()] == ["session"]
    session_cookie = context.cookies()[0]
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"

    page.get_by_role("link", name="Security").first.click()
    assert page.get_by_text("this device").is_visible()

    page.locator("header .account-menu summary").click()  # the account menu opens (no JS needed)
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are signed out.").wait_for()
    page.goto(live_server + "/account")
    assert "/login" in page.url


def test_cookies_blocked_says_they_are_required(cookie_blocking_context, live_server, app, runner):
    """A browser that blocks cookies is told why sign-in fails instead of failing silently."""
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    page = cookie_blocking_context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("demo@twtapi.com")
    page.get_by_label("Password").fill("sample-customer-2025-twtapi")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Cookies are required to sign in.").wait_for()
    assert cookie_blocking_context.cookies() == []


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_portal_pages_have_no_serious_accessibility_violations(browser, live_server, runner, language):
    from axe_playwright_python.sync_playwright import Axe

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    try:
        page = context.new_page()
        page.goto(live_server + "/login")
        page.locator("#email").fill("demo@twtapi.com")
        page.locator("#password").fill("sample-customer-2025-twtapi")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(live_server + "/account")
        for path in ["/account", "/account/profile", "/account/security"]:
            page.goto(live_server + path)
            violations = [
                (v["id"], [n["target"] for n in v["nodes"]])
                for v in Axe().run(page).response["violations"]
                if v["impact"] in {"serious", "critical"}
            ]
            assert violations == [], path
    finally:
        context.close()


def test_turn_on_2fa_and_sign_in_with_a_code(page, context, live_server, runner):
    """The key shown on the page goes into an "authenticator" (pyotp here); its codes sign in."""
    import time

    import pyotp
    from axe_playwright_python.sync_playwright import Axe

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("demo@twtapi.com")
    page.get_by_label("Password").fill("sample-customer-2025-twtapi")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Hello, Demo").wait_for()

    page.goto(live_server + "/account/security/2fa")
    assert page.locator("figure.qr svg").is_visible()
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
    assert serious == []
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Six-digit code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator(".recovery-codes li").count() == 10

    page.locator("header .account-menu summary").click()  # the account menu opens (no JS needed)
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("demo@twtapi.com")
    page.get_by_label("Password").fill("sample-customer-2025-twtapi")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Two-factor authentication").wait_for()
    page.get_by_label("Authentication code or recovery code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Hello, Demo").wait_for()
    page.goto(live_server + "/account/security")
    assert page.get_by_text("Two-factor authentication turned on").is_visible()
