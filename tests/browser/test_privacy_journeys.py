"""Privacy promises walked end to end in a real browser, across the domains they touch: a
visitor's contact thread reaching an erasure, a flagged minor, the policies in force, a lockout
ended by a reset, and closing an account through re-authentication."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import User, UserSession
from app.extensions import db as _db
from app.legal.models import PolicyVersion
from app.rights.models import RightsRequest
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS, totp_now
from tests.staff.test_routes import PASSWORD as STAFF_PASSWORD
from tests.staff.test_routes import make_staff
from tests.sweep import traces

pytestmark = pytest.mark.browser


def _mail(outbox, to: str, pattern: str) -> str:
    message = next(m for m in reversed(outbox) if m["To"] == to)
    return re.search(pattern, message.get_body(("plain",)).get_content()).group(1)


def test_a_visitor_contacts_us_asks_for_erasure_and_no_trace_is_left(page, browser, live_server, outbox, app,
                                                                        runner):
    visitor = "vera.visitor@example.org"
    page.goto(live_server + "/contact")
    page.get_by_label("Your name").fill("Vera Visitor")
    page.get_by_label("E-mail address").fill(visitor)
    page.get_by_label("Topic").select_option("sales")
    page.get_by_label("Message").fill("Do you offer a discount for academic research?")
    page.get_by_role("button", name="Send message").click()
    page.get_by_role("heading", name="Thank you, your message is sent").wait_for()
    page.reload()  # post/redirect/get: a reload sends nothing twice
    page.goto(live_server + "/contact")
    page.get_by_role("link", name="rights-request form").click()
    page.get_by_label("What would you like?").select_option("erasure")
    page.get_by_label("E-mail address").fill(visitor)
    page.get_by_label("Details").fill("Please delete everything you have about me.")
    page.get_by_role("button", name="Send request").click()
    page.get_by_label("Six-digit code").fill(_mail(outbox, visitor, r"\b(\d{6})\b"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Request received").first.wait_for()
    status_link = _mail(outbox, visitor, r"https?://\S+(/privacy/request/status/\S+)")  # signed by the site

    # Privacy staff complete it in their own browser: sign in, turn on the console's second
    # factor, read the inventory on the request page, confirm the erasure on its confirm page.
    make_staff(runner, roles=("privacy",))
    with app.app_context():
        reference = _db.session.scalar(select(RightsRequest.reference))
    staff = browser.new_context(locale="en-GB").new_page()
    staff.goto(live_server + "/login")
    staff.get_by_label("E-mail address").fill("staff@example.com")
    staff.get_by_label("Password").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    staff.wait_for_load_state()
    staff.goto(live_server + "/account/security/2fa")
    secret = staff.locator("code.secret").inner_text()
    staff.get_by_label("Six-digit code from the app").fill(totp_now(secret))
    staff.get_by_role("button", name="Turn on").click()
    staff.get_by_role("heading", name="Your recovery codes").wait_for()
    staff.goto(live_server + f"/staff/requests/{reference}")
    staff.get_by_text("Support conversations").first.wait_for()
    staff.get_by_role("button", name="Complete", exact=True).click()
    staff.get_by_role("heading", name="Erase everything listed above?").wait_for()
    assert traces(app, [visitor]) != []  # the confirm page erased nothing yet
    staff.get_by_role("button", name="Erase now").click()
    staff.get_by_text("Completed").first.wait_for()
    assert staff.get_by_role("button", name="Complete", exact=True).count() == 0  # a done request has no actions
    staff.context.close()

    page.goto(live_server + status_link)
    page.get_by_text("Deleted: support conversations (1).").wait_for()
    assert traces(app, [visitor, "Vera Visitor", "academic research"]) == []


def test_a_flagged_minor_cannot_sign_in_and_is_told_why(page, live_server, app):
    user_id, _ = make_customer(app, "young.one@example.com").as_user()
    with app.app_context():
        _db.session.get(User, user_id).minor_flagged_at = utcnow()
        _db.session.commit()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("young.one@example.com")
    page.get_by_label("Password").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="This account is closed").wait_for()
    assert "parent or guardian" in page.content()
    page.goto(live_server + "/account")
    assert "/login" in page.url


def test_the_policy_in_force_is_shown_on_a_fresh_database_and_the_history_reads_as_text(page, live_server, app):
    with app.app_context():
        _db.session.execute(PolicyVersion.__table__.delete())
        _db.session.commit()
    try:
        page.goto(live_server + "/privacy")
        page.get_by_text("Last updated: February 26, 2025").wait_for()
        today = utcnow().date()
        with app.app_context():
            old = _db.session.scalar(select(PolicyVersion).where(PolicyVersion.document == "privacy",
                                                                 PolicyVersion.locale == "en"))
            body = old.body.replace("values your privacy", "values your privacy greatly")
            _db.session.add(PolicyVersion(document="privacy", version="2099-09-09", locale="en", published_on=today,
                                          effective_on=today + timedelta(days=14), significant=True,
                                          summary="Clearer wording.", body=body))
            _db.session.commit()
        page.goto(live_server + "/privacy")
        page.get_by_text("A new version takes effect on").wait_for()
        page.get_by_role("link", name="Read the new version").click()
        page.get_by_text("This version takes effect on").wait_for()
        page.goto(live_server + "/privacy/history?document=privacy&from=2025-02-26&to=2099-09-09")
        diff = page.locator(".diff")
        assert "greatly" in diff.locator("ins").first.inner_text()
        assert "{{" not in diff.inner_text() and "##" not in diff.inner_text()
    finally:
        with app.app_context():
            _db.session.execute(PolicyVersion.__table__.delete())
            from app.legal.services import publish

            publish()
            _db.session.commit()


def test_a_locked_out_customer_resets_the_password_and_signs_in(page, live_server, app, outbox):
    make_customer(app, "locked.out@example.com")
    page.goto(live_server + "/login")
    for _ in range(5):
        page.get_by_label("E-mail address").fill("locked.out@example.com")
        page.get_by_label("Password").fill("not the password at all")
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        page.get_by_text("The e-mail address or password is not right.").wait_for()
    page.get_by_label("E-mail address").fill("locked.out@example.com")
    page.get_by_label("Password").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Too many failed attempts").wait_for()
    page.goto(live_server + "/reset-password")
    page.get_by_label("E-mail address").fill("locked.out@example.com")
    page.get_by_role("button", name="Send the link").click()
    page.goto(_mail(outbox, "locked.out@example.com", r"(https?://\S+/reset-password/\S+)"))
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Save the new password").click()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("locked.out@example.com")
    page.get_by_label("Password").fill("a brand new passphrase")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()


def test_closing_the_account_passes_through_reauthentication_in_one_go(page, live_server, app):
    make_customer(app, "closing.time@example.com")
    page.goto(live_server + "/login")
    page.get_by_label("E-mail address").fill("closing.time@example.com")
    page.get_by_label("Password").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()
    with app.app_context():  # the sign-in was a while ago
        _db.session.execute(UserSession.__table__.update().values(reauthenticated_at=utcnow() - timedelta(hours=1)))
        _db.session.commit()
    page.goto(live_server + "/account/privacy")
    page.get_by_label("Type your e-mail address to confirm").fill("closing.time@example.com")
    page.get_by_role("button", name="Close my account").click()
    page.get_by_text("To close your account, confirm it is you.").wait_for()
    page.get_by_label("Password").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("send the form again").wait_for()
    page.get_by_role("button", name="Close my account").click()
    page.get_by_text("Your account is closed.").wait_for()
