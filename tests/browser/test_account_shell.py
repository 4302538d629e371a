"""The account area's layout in a real browser: a side navigation at 1280 px, a menu at 390 px,
the current page marked, nothing wider than the screen, and no serious accessibility violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser

ACCOUNT_PAGES = ["/account", "/account/keys", "/account/usage", "/account/usage/calls", "/account/orders",
                 "/account/alerts", "/account/billing", "/account/security", "/account/privacy", "/account/profile",
                 "/account/notifications"]


def signed_in(browser, live_server, runner, width: int, locale: str = "en-GB", javascript: bool = True):
    """The demo customer, signed in through the login page in a fresh browser context."""
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    context = browser.new_context(viewport={"width": width, "height": 844}, locale=locale,
                                  java_script_enabled=javascript)
    page = context.new_page()
    page.goto(live_server + "/login")
    page.locator("input[name=email]").fill("demo@twtapi.com")
    page.locator("input[name=password]").fill("sample-customer-2025-twtapi")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def test_at_1280_px_the_side_navigation_marks_the_page_and_shows_the_balance(browser, live_server, runner):
    context, page = signed_in(browser, live_server, runner, 1280)
    try:
        page.goto(live_server + "/account/usage/calls")
        nav = page.get_by_role("navigation", name="Account")
        current = nav.locator(".side-nav-wide [aria-current=page]")
        assert current.count() == 1 and current.inner_text() == "Call log"
        menu = page.locator("header .account-menu summary")
        assert "demo@twtapi.com" in menu.inner_text() and "credits" in menu.inner_text()
        assert not nav.locator("summary").is_visible()  # the phone menu is not shown
        main, side = page.locator(".app-main").bounding_box(), nav.bounding_box()
        assert side["x"] + side["width"] <= main["x"]  # beside the page, not above it
        nav.get_by_role("link", name="API keys").click()
        page.get_by_role("heading", level=1).wait_for()
        assert page.url.endswith("/account/keys")
    finally:
        context.close()


@pytest.mark.parametrize("locale, menu", [("en-GB", "Account menu"), ("zh-CN", "账户菜单")])
def test_at_390_px_a_menu_without_javascript_names_the_page_and_nothing_overflows(browser, live_server, runner,
                                                                                 locale, menu):
    context, page = signed_in(browser, live_server, runner, 390, locale)
    try:
        for path in ACCOUNT_PAGES:
            page.goto(live_server + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
        page.goto(live_server + "/account/security")
        summary = page.locator(".side-nav summary")
        assert summary.is_visible() and menu in summary.inner_text()
        links = page.locator(".side-nav-narrow a")
        assert not links.first.is_visible()  # closed until opened
        summary.click()
        assert links.count() == 15 and links.first.is_visible()  # an owner's: the organisation's settings too
    finally:
        context.close()


def test_the_account_pages_have_no_serious_accessibility_violation(browser, live_server, runner):
    context, page = signed_in(browser, live_server, runner, 1280)
    axe = Axe()
    try:
        for path in ACCOUNT_PAGES:
            page.goto(live_server + path)
            serious = [v["id"] for v in axe.run(page).response["violations"]
                       if v["impact"] in ("serious", "critical")]
            assert serious == [], f"{path}: {serious}"
    finally:
        context.close()
