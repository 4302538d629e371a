"""Re-authentication before sensitive actions."""

from datetime import timedelta

from sqlalchemy import select

from app.auth.models import UserSession
from app.extensions import db as _db
from tests.fixtures.visitor import PASSWORD_FOR_TESTS, AuthActions, submit, totp_now, turn_on_2fa


def _age_reauth(app, minutes=6):
    with app.app_context():
        for row in _db.session.scalars(select(UserSession)):
            row.reauthenticated_at -= timedelta(minutes=minutes)
        _db.session.commit()


def test_password_change_after_5_minutes_asks_again_then_returns(client, app, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    _age_reauth(app)
    data = {"password-current_password": PASSWORD_FOR_TESTS, "password-password": "another long passphrase"}
    response = submit(client, "/account/profile", data, action="/account/profile/password", prefix="password",
                      headers={"Referer": "http://localhost/account/profile"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/reauth?next=/account/profile"

    wrong = submit(client, "/reauth?next=/account/profile", {"password": "not my password"})
    assert "Your password is not right" in wrong.get_data(as_text=True)
    ok = submit(client, "/reauth?next=/account/profile", {"password": PASSWORD_FOR_TESTS, "next": "/account/profile"})
    assert ok.headers["Location"] == "/account/profile"
    again = submit(client, "/account/profile", data, action="/account/profile/password", prefix="password")
    assert again.status_code == 303


def test_reauth_needs_the_second_factor_when_it_is_on(client, app, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    secret, _ = turn_on_2fa(client)
    _age_reauth(app)
    without = submit(client, "/reauth", {"password": PASSWORD_FOR_TESTS, "next": "/account/security"})
    assert without.status_code == 200
    assert "not right" in without.get_data(as_text=True)
    with_code = submit(client, "/reauth", {"password": PASSWORD_FOR_TESTS, "code": totp_now(secret, 1),
                                          "next": "/account/security"})
    assert with_code.headers["Location"] == "/account/security"


def test_reauth_never_returns_off_site(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    response = submit(client, "/reauth", {"password": PASSWORD_FOR_TESTS, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/account/security"


def test_every_change_of_the_address_or_a_factor_asks_for_password_and_second_factor_again(client, app, outbox):
    """ASVS 5.0 7.5.1: changing the e-mail address, the password, turning two-factor on or off,
    and new recovery codes all go through /reauth, which needs the password and the second factor."""
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    secret, _ = turn_on_2fa(client)
    _age_reauth(app)
    for path, fields in (("/account/profile/email", {"new_email": "new@example.com"}),
                         ("/account/profile/password", {"password": "another long passphrase"}),
                         ("/account/security/2fa/disable", {"code": "123456"}),
                         ("/account/security/2fa/recovery-codes", {})):
        response = submit(client, "/account/security", fields, action=path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/reauth"), path
    assert client.get("/account/security/2fa").headers["Location"].startswith("/reauth")
    password_only = submit(client, "/reauth", {"password": PASSWORD_FOR_TESTS, "next": "/account/security"})
    assert password_only.status_code == 200 and "not right" in password_only.get_data(as_text=True)
    both = submit(client, "/reauth", {"password": PASSWORD_FOR_TESTS, "code": totp_now(secret, 1),
                                      "next": "/account/security"})
    assert both.headers["Location"] == "/account/security"
