"""Organisations (teams) in a real browser: an owner and an invited developer in two browsers,
a billing member's credits spent by the developer's key until the developer is removed; the team
pages checked with axe in English and Chinese, and at 390 px wide."""

from __future__ import annotations

import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.extensions import db as _db
from app.organisations import services as organisations
from app.organisations.models import Membership, Organisation, Role
from app.timeutil import utcnow
from tests.fixtures.factories import ApiKeyFactory, UserFactory
from tests.fixtures.visitor import PASSWORD_FOR_TESTS

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
API_CALL = "/api/v1/users/jack"
LANGUAGES = {"en": "en-GB", "zh_Hans": "zh-CN"}  # the site's language code: the browser's locale


# --- helpers ------------------------------------------------------------------------------------


def _link(outbox, to: str, path: str) -> str:
    """The newest link to ``path`` in the mail sent to ``to``."""
    message = next(m for m in reversed(outbox) if m["To"] == to)
    return re.search(r"(https?://\S+" + re.escape(path) + r"\S+)", message.get_body(("plain",)).get_content()).group(1)


def _new_page(browser, width: int = 1280, locale: str = "en-GB"):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def _sign_up(page, live_server, outbox, email: str, nickname: str) -> None:
    """Sign up through the form and confirm the address by the link in the mail (ends on the login page)."""
    page.goto(live_server + "/register")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Nickname (optional)").fill(nickname)
    page.get_by_label("I am at least 16 years old.").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(_link(outbox, email, "/verify-email/"))
    page.get_by_text("is confirmed").wait_for()


def _sign_in(page, live_server, email: str, password: str = PASSWORD) -> None:
    """Sign in on the login page (by the fields' names: the same in every language)."""
    page.goto(live_server + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(lambda url: "/login" not in url)


def _work_in(page, live_server, organisation_id: int) -> None:
    """Choose the organisation to work in on the Organisations page (its "Work in …" button)."""
    page.goto(live_server + "/account/organisations")
    page.locator(f"form:has(input[name=organisation][value='{organisation_id}']) button").click()
    page.wait_for_url(lambda url: "/account/organisations" not in url)


def _side_org(page) -> str:
    return page.locator(".side-nav-org strong").inner_text()


def _serious(page) -> list:
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in Axe().run(page).response["violations"]
            if v["impact"] in {"serious", "critical"}]


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _members(page) -> dict[str, str]:
    """The team page's members: the first line of the member cell (the name) and the role."""
    rows = page.get_by_role("table", name="Members").locator("tbody tr")
    return {row.locator("td").nth(0).inner_text().split("\n")[0].split(" ")[0]: row.locator("td").nth(1).inner_text()
            for row in rows.all()}


def _call(context, live_server, secret: str):
    return context.request.get(live_server + API_CALL, headers={"Authorization": f"Bearer {secret}"})


def _create_key(page, live_server, name: str, password: str = PASSWORD) -> str:
    """Create a key on the keys page, confirming the password if the site asks again; its secret."""
    page.goto(live_server + "/account/keys")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_role("heading", name="Your new API key")
    reauth = page.get_by_text("To create an API key, confirm it is you.")
    new_key.or_(reauth).first.wait_for()
    if reauth.is_visible():
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Confirm").click()
        page.get_by_role("button", name="Create key").click()  # the form, filled in again: send it
        new_key.wait_for()
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("twt_")
    return secret


def _until(page, url: str, condition, tries: int = 50) -> bool:
    """Reload ``url`` as a person would until ``condition(page)`` holds (the Redis meter writes
    calls and balances a moment after the call)."""
    for _ in range(tries):
        page.goto(url)
        if condition(page):
            return True
        time.sleep(0.1)
    return False


def _member(app, email: str, nickname: str | None, role: Role, organisation_id: int) -> int:
    """A verified account (PASSWORD_FOR_TESTS) added to the organisation with ``role``, as if it
    accepted an invitation; its membership id."""
    with app.app_context():
        person = UserFactory(email=email, nickname=nickname)
        membership = Membership(organisation_id=organisation_id, user_id=person.id, role=role)
        _db.session.add(membership)
        _db.session.commit()
        return membership.id


# --- the journey ----------------------------------------------------------------------------------


def test_an_invited_developer_spends_the_credits_a_billing_member_bought_until_the_owner_removes_them(
        browser, live_server, outbox, app):
    owner_context, owner = _new_page(browser)
    dev_context, dev = _new_page(browser)
    billing_context, billing = _new_page(browser)
    try:
        # The owner signs up, creates Acme and works in it.
        _sign_up(owner, live_server, outbox, "olivia.owner@example.com", "Olivia")
        _sign_in(owner, live_server, "olivia.owner@example.com")
        owner.goto(live_server + "/account/organisations")
        owner.get_by_label("Organisation name").fill("Acme")
        owner.get_by_role("button", name="Create organisation").click()
        owner.get_by_text("Acme is created and you work in it now.").wait_for()
        assert _side_org(owner) == "Acme"
        assert "Organisation: Acme" in owner.locator(".side-nav-org").inner_text()
        assert owner.locator("header .account-menu-org").inner_text() == "Acme"

        # She invites a developer by e-mail.
        owner.goto(live_server + "/account/team")
        owner.get_by_role("heading", name="Team of Acme").wait_for()
        owner.get_by_label("E-mail address").fill("dev.eloper@example.com")
        owner.get_by_label("Role", exact=True).select_option("developer")
        owner.get_by_role("button", name="Send invitation").click()
        owner.get_by_text("Invitation sent to dev.eloper@example.com").wait_for()
        invitations = owner.get_by_role("table", name="Open invitations")
        assert "dev.eloper@example.com" in invitations.inner_text() and "Developer" in invitations.inner_text()
        invitation = _link(outbox, "dev.eloper@example.com", "/invitations/")

        # The developer opens the link signed out, signs up with the invited address, confirms
        # it, signs in, opens the link again and accepts.
        dev.goto(invitation)
        dev.get_by_role("heading", name="Join Acme").wait_for()
        assert dev.get_by_text("Olivia invites you to the organisation Acme as Developer.").is_visible()
        _sign_up(dev, live_server, outbox, "dev.eloper@example.com", "Dev")
        _sign_in(dev, live_server, "dev.eloper@example.com")
        dev.goto(invitation)
        dev.get_by_role("button", name="Accept and join").click()
        dev.get_by_text("Welcome to Acme. You work in it now.").wait_for()
        assert _side_org(dev) == "Acme"
        owner.goto(live_server + "/account/team")
        assert owner.get_by_role("table", name="Open invitations").count() == 0  # accepted: no longer open
        assert _members(owner) == {"Olivia": "Owner", "Dev": "Developer"}

        # The developer makes a key; Acme has no credits yet: the call is refused with 402.
        secret = _create_key(dev, live_server, "acme backend")
        refused = _call(dev_context, live_server, secret)
        assert refused.status == 402, refused.text()

        # A billing member of Acme switches to it in the header menu and buys credits (demo checkout).
        with app.app_context():
            acme_id = _db.session.scalar(select(Organisation.id).where(Organisation.name == "Acme"))
        _member(app, "bill.payer@example.com", "Bill", Role.BILLING, acme_id)
        _sign_in(billing, live_server, "bill.payer@example.com", PASSWORD_FOR_TESTS)
        billing.locator("header .account-menu summary").click()
        billing.get_by_label("Organisation", exact=True).select_option(label="Acme")
        billing.get_by_role("button", name="Switch").click()
        billing.get_by_text("You now work in Acme.").wait_for()
        billing.goto(live_server + "/account")
        billing.get_by_role("button", name="Buy Starter").click()
        billing.get_by_label("Your country").select_option("DE")
        billing.get_by_role("button", name="Show the total for this country").click()
        billing.get_by_role("button", name="Continue to payment").click()
        billing.get_by_text("Demo: no real payment.").wait_for()
        billing.get_by_role("button", name="Pay").click()
        billing.get_by_role("heading", name="Payment complete").wait_for()
        assert billing.get_by_text("Your balance is now 10,000 credits.").is_visible()

        # The developer's key now spends Acme's credits, and the balance they see drops.
        dev.goto(live_server + "/account/usage")
        assert dev.locator("#balance-title + .price").inner_text() == "10,000 credits"
        paid = _call(dev_context, live_server, secret)
        assert paid.status == 200, paid.text()
        assert paid.json()["data"]["username"] == "jack"
        assert paid.headers["x-credits-remaining"] == "9999"
        assert _until(dev, live_server + "/account/usage",
                      lambda p: p.locator("#balance-title + .price").inner_text() == "9,999 credits")

        # The owner sees the call in Acme's usage, by the developer's key, and in the call log.
        by_key = owner.get_by_role("table", name="Usage by API key in the period")
        assert _until(owner, live_server + "/account/usage?days=7",
                      lambda p: by_key.count() == 1 and "acme backend" in by_key.inner_text())
        key_usage = by_key.locator("tbody tr").filter(has_text="acme backend").locator("td")
        assert [key_usage.nth(i).inner_text().strip() for i in (1, 2)] == ["2", "1"]  # the 402 and the 200; 1 credit
        owner.goto(live_server + "/account/usage/calls")
        calls = owner.get_by_role("table", name="Calls, newest first").locator("tbody tr")
        calls = calls.filter(has_text="acme backend")
        assert [row.locator("td").nth(4).inner_text().strip() for row in calls.all()] == ["200", "402"]
        assert "/api/v1/users/{username}" in calls.first.inner_text()

        # The team log names the developer who joined and who made the key; so does the keys page.
        owner.goto(live_server + "/account/team/log")
        joined = owner.get_by_role("row").filter(has_text="joined")
        assert joined.count() == 1 and "Dev" in joined.inner_text()
        made = owner.get_by_role("row").filter(has_text="created a key")
        assert made.count() == 1 and "Dev" in made.inner_text() and "acme backend" in made.inner_text()
        owner.goto(live_server + "/account/keys")
        key_row = owner.get_by_role("row").filter(has_text="acme backend")
        assert key_row.count() == 1 and "Dev" in key_row.inner_text()

        # The owner removes the developer; the confirmation lists their key; none is kept.
        owner.goto(live_server + "/account/team")
        owner.get_by_role("link", name="Remove Dev").click()
        owner.get_by_role("heading", name="Remove Dev?").wait_for()
        keep = owner.get_by_role("checkbox", name=re.compile(r"Keep acme backend \(twt_[\w-]+…\) working"))
        assert keep.count() == 1 and not keep.is_checked()
        owner.get_by_role("button", name="Remove the member").click()
        owner.get_by_text("Dev is no longer a member; 1 of their keys revoked.").wait_for()
        assert _members(owner) == {"Olivia": "Owner", "Bill": "Billing"}

        # The developer's next page is in their personal organisation; their key stops.
        dev.goto(live_server + "/account/usage")
        assert _side_org(dev) == "Personal"
        assert "Organisation: Personal" in dev.locator(".side-nav-org").inner_text()
        assert "Acme" not in dev.content()
        assert _call(dev_context, live_server, secret).status == 401
    finally:
        for context in (owner_context, dev_context, billing_context):
            context.close()


# --- accessibility and narrow screens -----------------------------------------------------------


def _acme(app) -> dict:
    """Acme, owned by Olivia, with a developer who made a key and a viewer (all PASSWORD_FOR_TESTS)."""
    with app.app_context():
        now = utcnow()
        owner = UserFactory(email="olivia@example.com", nickname="Olivia")
        acme = organisations.create_organisation(owner, "Acme", now)
        _db.session.commit()
        acme_id = acme.id
    developer = _member(app, "dev@example.com", "Dev", Role.DEVELOPER, acme_id)
    viewer = _member(app, "vic.viewer@example.com", "Vic", Role.VIEWER, acme_id)
    with app.test_request_context():
        dev = _db.session.get(Membership, developer)
        ApiKeyFactory(user=dev.user, organisation=dev.organisation, name="dev laptop")
        _db.session.commit()
    return {"id": acme_id, "developer": developer, "viewer": viewer}


def _owner_in_acme(browser, live_server, acme, language: str, width: int = 1280):
    """Olivia signed in, in ``language`` (the footer's language switch), working in Acme."""
    context, page = _new_page(browser, width, LANGUAGES[language])
    page.goto(live_server + f"/language/{language}?next=/login")
    _sign_in(page, live_server, "olivia@example.com", PASSWORD_FOR_TESTS)
    _work_in(page, live_server, acme["id"])
    assert page.locator("html").get_attribute("lang") == language.replace("_", "-")
    return context, page


def _invite(page, live_server, email: str) -> None:
    """Invite ``email`` as a developer on the team page (field names: any language)."""
    page.goto(live_server + "/account/team")
    page.locator("input[name=email]").fill(email)
    page.locator("select[name=role]#role").select_option("developer")
    page.locator("form[action$='/account/team/invitations'] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_the_team_pages_have_no_serious_accessibility_violation(browser, live_server, app, outbox, language):
    acme = _acme(app)
    contexts = []
    try:
        context, owner = _owner_in_acme(browser, live_server, acme, language)
        contexts.append(context)
        _invite(owner, live_server, "new.colleague@example.com")
        open_invitation = owner.locator("table").filter(has_text="new.colleague@example.com")
        assert open_invitation.count() == 1  # the team page is checked with an open invitation listed
        found = {}
        for path in ["/account/organisations", "/account/team",
                     f"/account/team/members/{acme['developer']}/remove", "/account/team/log",
                     "/account/organisation/settings"]:
            response = owner.goto(live_server + path)
            assert response.status == 200, path
            found[path] = _serious(owner)

        # The invitation's page, signed out, in the same language.
        visitor_context, visitor = _new_page(browser, locale=LANGUAGES[language])
        contexts.append(visitor_context)
        visitor.goto(live_server + f"/language/{language}?next=/")
        response = visitor.goto(_link(outbox, "new.colleague@example.com", "/invitations/"))
        assert response.status == 200 and visitor.locator("form[action*='/invitations/']").count() == 0
        assert visitor.locator("a[href*='/register']").count() >= 1
        assert visitor.locator("html").get_attribute("lang") == language.replace("_", "-")
        found["/invitations/<token>"] = _serious(visitor)

        # The page refusing a viewer a manager's action.
        viewer_context, viewer = _new_page(browser, locale=LANGUAGES[language])
        contexts.append(viewer_context)
        viewer.goto(live_server + f"/language/{language}?next=/login")
        _sign_in(viewer, live_server, "vic.viewer@example.com", PASSWORD_FOR_TESTS)
        _work_in(viewer, live_server, acme["id"])
        response = viewer.goto(live_server + f"/account/team/members/{acme['developer']}/remove")
        assert response.status == 403
        refusal = viewer.locator("main").inner_text()
        assert "Acme" in refusal and (language != "en" or "Your role in Acme is Viewer" in refusal)
        assert viewer.locator("html").get_attribute("lang") == language.replace("_", "-")
        found["403 for a viewer"] = _serious(viewer)

        assert {path: v for path, v in found.items() if v} == {}
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize("language", ["en", "zh_Hans"])
def test_at_390_px_the_team_and_organisation_pages_fit_the_screen(browser, live_server, app, language):
    acme = _acme(app)
    # E-mail addresses are long words: one a member is known by (no nickname), one invited.
    _member(app, "alexandrakonstantinopoulou@northwindtraders.example", None, Role.VIEWER, acme["id"])
    context, page = _owner_in_acme(browser, live_server, acme, language, width=390)
    try:
        _invite(page, live_server, "christopher.vanderberg@northwindtraders.example")
        assert page.locator("table").filter(has_text="christopher.vanderberg@northwindtraders.example").count() == 1
        widths = {}
        for path in ["/account/team", "/account/organisations", "/account/team/log"]:
            page.goto(live_server + path)
            widths[path] = _overflow(page)
        assert {path: px for path, px in widths.items() if px > 0} == {}
    finally:
        context.close()
