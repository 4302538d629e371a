"""The main pages as a phone (390 px) and a desktop (1280 px) show them, in English and Chinese:
a screenshot of each, no page wider than the screen, no table cell whose text overflows its box,
no word broken inside, the cookie banner under a quarter of a phone's screen with two equal
buttons, and no serious accessibility violation on any account or staff page, signed in."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.test_account_shell import ACCOUNT_PAGES, signed_in
from tests.fixtures.visitor import totp_now
from tests.staff.test_routes import PASSWORD, make_staff

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/", "/pricing", "/docs/api", "/changelog", "/contact", "/cookies", "/privacy", "/terms",
                "/privacy/request"]
STAFF_PAGES = ["/staff/", "/staff/users", "/staff/orders", "/staff/credits", "/staff/messages", "/staff/requests",
               "/staff/policies", "/staff/analytics", "/staff/audit", "/staff/team"]
LOCALES = {"en-GB": "en", "zh-CN": "zh_Hans"}

# Every table cell (and its value box) that is shown: does its text overflow, is a word split
# across two lines? Words are runs of Latin letters and digits outside code samples; Chinese text
# may wrap between any two characters, as it is written.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push(['page wider than the screen', '']);
  for (const cell of document.querySelectorAll('main td, main th')) {
    if (!cell.getClientRects().length) continue;
    for (const box of [cell, ...cell.querySelectorAll('.cell')]) {
      if (box.scrollWidth > box.clientWidth + 1) problems.push(['text overflows', cell.innerText.slice(0, 40)]);
    }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('code, pre')) continue;
      const words = /[A-Za-z0-9][A-Za-z0-9@.,'’]*[A-Za-z0-9]/g;
      for (let m = words.exec(node.data); m; m = words.exec(node.data)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) problems.push(['word broken inside', m[0]]);
      }
    }
  }
  return problems;
}"""


def staff_signed_in(browser, live_server, runner, width, locale, email):
    make_staff(runner, email=email, roles=("admin",))
    context = browser.new_context(viewport={"width": width, "height": 844}, locale=locale)
    page = context.new_page()
    page.goto(live_server + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(live_server + "/account/security/2fa")
    page.locator("input[name=code]").fill(totp_now(page.locator("code.secret").inner_text()))
    page.locator("form[action$='/2fa/enable'] button[type=submit]").click()
    page.locator(".recovery-codes").wait_for()
    return context, page


def check_pages(page, live_server, paths, language, width, shots):
    found = {}
    page.goto(live_server + f"/language/{language}")
    for path in paths:
        page.goto(live_server + path)
        page.screenshot(path=shots / f"{language}-{width}-{path.strip('/').replace('/', '_') or 'home'}.png",
                        full_page=True)
        problems = page.evaluate(LAYOUT_PROBLEMS)
        if problems:
            found[path] = problems[:5]
    return found


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("locale", LOCALES)
def test_main_pages_fit_the_screen_with_whole_words(browser, live_server, runner, tmp_path, width, locale):
    language = LOCALES[locale]
    context, page = signed_in(browser, live_server, runner, width, locale)
    try:
        found = check_pages(page, live_server, PUBLIC_PAGES + ACCOUNT_PAGES, language, width, tmp_path)
    finally:
        context.close()
    email = f"screens-{width}-{language.lower()}@example.com"
    context, page = staff_signed_in(browser, live_server, runner, width, locale, email)
    try:
        found |= check_pages(page, live_server, STAFF_PAGES, language, width, tmp_path)
    finally:
        context.close()
    assert found == {}
    assert len(list(tmp_path.glob("*.png"))) == len(PUBLIC_PAGES + ACCOUNT_PAGES + STAFF_PAGES)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_cookie_banner_takes_at_most_a_quarter_of_a_phone_with_equal_buttons(browser, live_server, locale):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
    try:
        page = context.new_page()
        for path in ("/", "/pricing", "/login"):
            page.goto(live_server + path)
            banner = page.locator("#consent-banner").bounding_box()
            assert banner["height"] <= 844 / 4, f"{path}: the banner is {banner['height']:.0f}px of 844"
            accept, reject = (page.locator(f"#consent-banner button[value={v}]").bounding_box()
                              for v in ("accept_all", "reject_all"))
            assert (accept["width"], accept["height"]) == (reject["width"], reject["height"])
            assert page.locator("#consent-banner").get_by_role("link").first.is_visible()  # the settings link
    finally:
        context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_account_and_staff_pages_have_no_serious_accessibility_violation(browser, live_server, runner, locale):
    axe = Axe()
    found = {}
    email = f"axe-{LOCALES[locale].lower()}@example.com"
    for (context, page), paths in (
        (signed_in(browser, live_server, runner, 1280, locale), ACCOUNT_PAGES),
        (staff_signed_in(browser, live_server, runner, 1280, locale, email), STAFF_PAGES),
    ):
        try:
            page.goto(live_server + f"/language/{LOCALES[locale]}")
            for path in paths:
                page.goto(live_server + path)
                serious = [v["id"] for v in axe.run(page).response["violations"]
                           if v["impact"] in ("serious", "critical")]
                if serious:
                    found[path] = serious
        finally:
            context.close()
    assert found == {}
