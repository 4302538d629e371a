"""Security keys that keep no passkey on themselves, in headless Chromium with Chrome's virtual
authenticator (the DevTools protocol's ``WebAuthn`` domain): an old U2F key, and FIDO2 keys
without resident-key storage, with and without a PIN. Each can be added, serves as the second
factor after the password and confirms it is you (with the password where the key does not check
its user), and the passkeys page says honestly that it cannot sign in alone."""

import pytest
from sqlalchemy import select

from app.auth.models import Passkey, User
from app.extensions import db as _db
from tests.browser.test_passkeys import serious_violations, sign_in_with_password, sign_out, site, without_autofill
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import PASSWORD_FOR_TESTS

pytestmark = pytest.mark.browser
__all__ = ["site"]  # the passkey tests' server, at http://localhost

KEYS = {
    "u2f": {"protocol": "u2f", "hasUserVerification": False},
    "ctap2-no-pin": {"protocol": "ctap2", "hasUserVerification": False},
    "ctap2-pin": {"protocol": "ctap2", "hasUserVerification": True, "isUserVerified": True},
}


def security_key(context, page, kind: str) -> tuple[object, str]:
    """A USB security key with no room for resident (discoverable) credentials."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "transport": "usb", "hasResidentKey": False, "automaticPresenceSimulation": True, **KEYS[kind]}})
    return cdp, added["authenticatorId"]


@pytest.mark.parametrize("kind", list(KEYS))
def test_a_security_key_without_resident_keys_is_added_and_serves_as_the_second_factor(context, page, site, app,
                                                                                       kind):
    email = f"key.{kind}@example.com"
    user_id, _ = make_customer(app, email=email).as_user()
    cdp, key_id = security_key(context, page, kind)
    without_autofill(page)
    sign_in_with_password(page, site, email)
    page.goto(site + "/account/security/passkeys")
    assert "security key" in page.locator("main").inner_text()  # the page says keys are welcome
    page.get_by_label("Name of the passkey").fill("Blue key")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": key_id})["credentials"]
    assert len(stored) == 1 and not stored[0]["isResidentCredential"]
    with app.app_context():
        passkey = _db.session.scalar(select(Passkey).where(Passkey.user_id == user_id))
        assert passkey.discoverable is False  # as the browser reported (credProps)
        assert _db.session.get(User, user_id).has_2fa

    page.goto(site + "/account/security/passkeys")
    row = page.get_by_role("row").filter(has=page.locator("input[value='Blue key']"))
    assert "No: second factor only" in row.inner_text()
    assert serious_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the new column fits
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_viewport_size({"width": 1280, "height": 720})

    sign_out(page, site)
    sign_in_with_password(page, site, email)
    page.wait_for_url(site + "/login/2fa")
    page.get_by_role("button", name="Continue with a passkey").click()
    page.wait_for_url(site + "/account")

    page.goto(site + "/reauth?next=/account/security/passkeys")  # confirming it is you
    assert serious_violations(page) == []
    if not KEYS[kind]["hasUserVerification"]:  # a touch proves the key, the password the person
        page.locator("form[data-passkey] input[name=key_password]").fill(PASSWORD_FOR_TESTS)
    page.get_by_role("button", name="Confirm with a passkey").click()
    page.wait_for_url(site + "/account/security/passkeys")


def test_a_key_without_user_verification_does_not_confirm_it_is_you_alone(context, page, site, app):
    email = "key.alone@example.com"
    make_customer(app, email=email)
    security_key(context, page, "u2f")
    without_autofill(page)
    sign_in_with_password(page, site, email)
    page.goto(site + "/account/security/passkeys")
    page.get_by_label("Name of the passkey").fill("Old key")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()

    page.goto(site + "/reauth?next=/account/security/passkeys")
    with page.expect_response(lambda r: r.url.endswith("/reauth/passkey")) as answered:
        page.get_by_role("button", name="Confirm with a passkey").click()
    assert answered.value.status == 400
    assert "enter your password too" in page.locator("[data-passkey-status]").inner_text()
