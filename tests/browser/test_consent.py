"""The consent banner in a real browser, with JavaScript off and on."""

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.consent import registry

pytestmark = pytest.mark.browser


def _serious(page):
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in Axe().run(page).response["violations"]
            if v["impact"] in {"serious", "critical"}]


def test_reject_all_works_without_javascript_and_the_banner_stays_gone(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server + "/pricing")
        assert context.cookies() == []
        page.get_by_role("button", name="Reject all").click()
        page.wait_for_url(live_server + "/pricing")
        assert [c["name"] for c in context.cookies()] == ["consent"]
        for path in ("/pricing", "/", "/cookies"):
            page.goto(live_server + path)
            assert page.locator("#consent-banner").count() == 0
    finally:
        context.close()


def test_accept_all_works_with_javascript_without_a_reload(page, context, live_server):
    page.goto(live_server + "/")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="Accept all").click()
    page.locator("#consent-banner").wait_for(state="detached")
    assert page.evaluate("window.__sameDocument") is True  # the script saved it in place
    assert page.evaluate("document.activeElement.id") == "main"
    assert {c["name"] for c in context.cookies()} == {"consent"}
    page.goto(live_server + "/pricing")
    assert {c["name"] for c in context.cookies()} == {"consent", registry.ANALYTICS_COOKIE}


def test_accept_and_reject_have_equal_size(page, live_server):
    page.goto(live_server + "/")
    accept = page.get_by_role("button", name="Accept all").bounding_box()
    reject = page.get_by_role("button", name="Reject all").bounding_box()
    assert abs(accept["width"] - reject["width"]) <= 0.1 * accept["width"]
    assert abs(accept["height"] - reject["height"]) <= 0.1 * accept["height"]


@pytest.mark.parametrize("path", ["/", "/cookies"])
def test_banner_and_cookie_page_have_no_serious_accessibility_violations(page, live_server, path):
    page.goto(live_server + path)
    assert page.locator("#consent-banner").is_visible()
    assert _serious(page) == []


def test_withdrawing_in_the_browser_deletes_the_analytics_cookie(page, context, live_server):
    page.goto(live_server + "/")
    page.get_by_role("button", name="Accept all").click()
    page.locator("#consent-banner").wait_for(state="detached")
    page.goto(live_server + "/pricing")
    assert registry.ANALYTICS_COOKIE in {c["name"] for c in context.cookies()}
    page.get_by_role("link", name="Cookie settings").click()
    page.get_by_role("button", name="Withdraw consent").click()
    page.wait_for_url(live_server + "/cookies")
    assert {c["name"] for c in context.cookies()} == {"consent"}


@pytest.mark.parametrize("choice", [None, "Accept all", "Reject all"])
def test_walk_every_page_in_each_consent_state(browser, live_server, runner, choice):
    """No unregistered or unconsented cookie, and no request to another host, anywhere."""
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    context = browser.new_context()
    hosts = set()
    try:
        page = context.new_page()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
        page.goto(live_server + "/")
        if choice:
            page.get_by_role("button", name=choice).click()
            page.locator("#consent-banner").wait_for(state="detached")
        public = ["/", "/pricing", "/cookies", "/login", "/register", "/reset-password"]
        for path in public:
            page.goto(live_server + path)
        page.goto(live_server + "/login")
        page.locator("#email").fill("demo@twtapi.com")
        page.locator("#password").fill("sample-customer-2025-twtapi")
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(live_server + "/account")
        for path in ["/account", "/account/profile", "/account/security"]:
            page.goto(live_server + path)
        names = {c["name"] for c in context.cookies()}
        allowed = {c.name for c in registry.COOKIES if c.category == registry.ConsentCategory.NECESSARY}
        if choice == "Accept all":
            allowed |= {registry.ANALYTICS_COOKIE}
        assert names <= allowed
        assert names <= registry.registered_names()
        assert hosts == {urlsplit(live_server).netloc}
    finally:
        context.close()
