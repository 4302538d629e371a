"""What a visitor's browser sees: no third-party requests, no cookies, a layout that fits
320 px, dark mode, keyboard access and no serious accessibility violation."""

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser

PAGES = ["/", "/pricing", "/privacy", "/no-such-page"]


def _record_requests(page):
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_only_from_our_own_origin_and_set_no_cookie(page, context, live_server, path):
    requests = _record_requests(page)
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in requests if not u.startswith("data:")}
    assert origins == {live_server}
    assert any(u.endswith("/static/css/site.css") for u in requests)
    assert context.cookies() == []
    # A CSP violation or a missing asset shows up as a console error (a 404 page logs its own status).
    assert [e for e in console_errors if "404" not in e] == []


@pytest.mark.parametrize("path", ["/", "/pricing"])
def test_layout_fits_a_320px_wide_screen(browser, live_server, path):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(live_server + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        assert page.locator("h1").is_visible()
    finally:
        context.close()


def test_dark_mode_follows_the_system_setting(browser, live_server):
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(live_server + "/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours["light"] == "rgb(255, 255, 255)"
    assert colours["dark"] != colours["light"]


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, live_server):
    page.goto(live_server + "/pricing")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_language_switch_in_the_footer(page, context, live_server):
    page.goto(live_server + "/pricing")
    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url(live_server + "/pricing")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("h1").inner_text() == "价格"
    assert [c["name"] for c in context.cookies()] == ["lang"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_no_serious_accessibility_violations(browser, live_server, path, language):
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    try:
        page = context.new_page()
        page.goto(live_server + path)
        results = Axe().run(page)
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
            for v in results.response["violations"]
            if v["impact"] in {"serious", "critical"}
        ]
        assert serious == []
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/login", "/register", "/reset-password"])
def test_account_forms_have_no_serious_accessibility_violations(page, live_server, path):
    page.goto(live_server + path)
    page.get_by_role("button").last.click()  # submit empty: the page now shows its errors
    page.wait_for_load_state()
    violations = [
        (v["id"], [n["target"] for n in v["nodes"]])
        for v in Axe().run(page).response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert violations == []
