"""Passkeys in headless Chromium with Chrome's virtual authenticator (the DevTools protocol's
``WebAuthn`` domain, through Playwright's CDP session): the page's own script, the browser's
WebAuthn and the server's checks, nothing stood in for. Passkeys are bound to a domain name, so
the app is served and opened at http://localhost here, not at 127.0.0.1."""

import os

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.auth.models import Passkey, User, UserRole
from app.crypto import development_key
from app.extensions import db as _db
from tests.fixtures.factories import make_customer
from tests.fixtures.settings import served_environment
from tests.fixtures.visitor import PASSWORD_FOR_TESTS
from tests.server import HttpClient, free_port, gunicorn

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(database_url, smtp_server, tmp_path_factory):
    port = free_port()
    env = {
        **served_environment(),
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SITE_URL": f"http://localhost:{port}",
        "SECRET_KEY": "passkey-browser-tests-" + "x" * 24,
        "DATA_ENCRYPTION_KEYS": development_key("testing-only-not-secret"),
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_server[0].port}",
        "MAIL_DELIVERY": "inline",
        "RATELIMIT_KEY_PREFIX": f"twtapi-passkeys-{port}-{os.getpid()}",
    }
    log = tmp_path_factory.mktemp("passkeys") / "gunicorn.log"
    with gunicorn(env, log, workers=1, threads=4, port=port):
        yield f"http://localhost:{port}"


def authenticator(context, page) -> tuple[object, str]:
    """A platform authenticator that keeps passkeys and verifies its user (as a fingerprint
    reader would), answering without a person to touch it."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return cdp, added["authenticatorId"]


def serious_violations(page) -> list[str]:
    """axe's serious findings, but for ``autocomplete-valid`` on the sign-in field: the axe-core
    bundled (4.4) predates the HTML token ``webauthn`` (``autocomplete="username webauthn"``), which
    the browser's passkey autofill needs; the Nu Html Checker accepts it (tests/test_markup.py)."""
    found = Axe().run(page).response["violations"]
    return [v["id"] for v in found if v["impact"] in ("serious", "critical")
            and not (v["id"] == "autocomplete-valid" and page.url.split("?")[0].endswith("/login"))]


def without_autofill(page):
    """A browser that offers no passkey autofill (conditional mediation), so the page shows its
    button instead: Chrome's virtual authenticator would answer the autofill request at once."""
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);")


def sign_in_with_password(page, site, email):
    page.goto(site + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Log in").click()


def add_passkey(page, site, name):
    page.goto(site + "/account/security/passkeys")
    page.get_by_label("Name of the passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()


def sign_out(page, site):
    page.goto(site + "/account")
    page.locator("header .account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are signed out.").wait_for()


def test_register_a_passkey_sign_out_and_sign_in_with_the_passkey_alone(context, page, site, app):
    make_customer(app, email="passkey.user@example.com")
    cdp, authenticator_id = authenticator(context, page)
    sign_in_with_password(page, site, "passkey.user@example.com")
    add_passkey(page, site, "Test laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"]  # a discoverable credential: a passkey
    page.goto(site + "/account/security/passkeys")
    assert page.get_by_label("Name of the passkey").first.input_value() == "Test laptop"
    assert serious_violations(page) == []

    sign_out(page, site)
    page.goto(site + "/login")  # the autofill request (conditional UI) answers: signed in from the page
    page.wait_for_url(site + "/account")
    sign_out(page, site)
    without_autofill(page)
    page.goto(site + "/login")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(site + "/account")
    assert page.get_by_role("heading", name="Hello,").count() == 1
    with app.app_context():
        passkey = _db.session.scalar(select(Passkey))
        assert passkey.last_used_at is not None and passkey.sign_count >= 1


def test_staff_meet_the_consoles_second_factor_with_a_passkey(context, page, site, app):
    user_id, _ = make_customer(app, email="passkey.staff@example.com").as_user()
    with app.app_context():
        _db.session.add(UserRole(user_id=user_id, role="support"))
        _db.session.commit()
    authenticator(context, page)
    without_autofill(page)
    sign_in_with_password(page, site, "passkey.staff@example.com")
    page.goto(site + "/staff/")
    page.get_by_text("two-factor authentication").first.wait_for()  # not yet: the console asks for it
    add_passkey(page, site, "Staff key")
    sign_out(page, site)

    sign_in_with_password(page, site, "passkey.staff@example.com")
    page.wait_for_url(site + "/login/2fa")
    page.get_by_role("button", name="Continue with a passkey").click()
    page.wait_for_url(site + "/account")
    response = page.goto(site + "/staff/")
    assert response.status == 200 and "/staff/" in page.url
    with app.app_context():
        assert _db.session.get(User, user_id).has_2fa


def test_a_replayed_assertion_is_refused(context, page, site, app):
    make_customer(app, email="passkey.replay@example.com")
    authenticator(context, page)
    without_autofill(page)
    sign_in_with_password(page, site, "passkey.replay@example.com")
    add_passkey(page, site, "Replayed")
    sign_out(page, site)

    page.goto(site + "/login")
    with page.expect_request(lambda r: r.url.endswith("/login/passkey") and r.method == "POST") as sent:
        page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(site + "/account")
    credential = sent.value.post_data_json["credential"]

    attacker = HttpClient(site)  # has the answer, from a proxy log say, but not the authenticator
    status, _, body = attacker.submit("/login", {"credential": credential}, action="/login/passkey")
    assert status == 400 and "already used" in body
    assert attacker.get("/account")[0] == 302

    sign_out(page, site)  # the same browser sending it again is refused too
    page.goto(site + "/login")
    status = page.evaluate("""async (credential) => {
        const form = document.querySelector("form[data-passkey]");
        const data = new FormData(form);
        data.set("credential", credential);
        return (await fetch(form.action, {method: "POST", body: new URLSearchParams(data)})).status;
    }""", credential)
    assert status == 400
    assert page.goto(site + "/account").url.startswith(site + "/login")
