"""Two-factor authentication as a user meets it: set up, sign in, replay, recovery, turn off."""

from datetime import timedelta

from sqlalchemy import select, text

from app.auth.models import RecoveryCode, User, UserSession
from app.extensions import db as _db
from tests.fixtures.visitor import AuthActions, submit, totp_now, turn_on_2fa


def _signed_in(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    return auth


def test_setup_shows_a_server_drawn_qr_code_and_the_key(client, outbox):
    _signed_in(client, outbox)
    response = client.get("/account/security/2fa")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg" in body and 'class="secret"' in body
    assert response.headers["Cache-Control"] == "no-store"
    assert "chart.googleapis" not in body and "api.qrserver" not in body


def test_turning_on_needs_a_matching_code_then_shows_ten_recovery_codes(client, app, outbox):
    _signed_in(client, outbox)
    client.get("/account/security/2fa")
    wrong = submit(client, "/account/security/2fa", {"code": "000000"}, action="/account/security/2fa/enable")
    assert wrong.status_code == 400
    assert "does not match" in wrong.get_data(as_text=True)
    outbox.clear()
    secret, codes = turn_on_2fa(client)
    with app.app_context():
        user = _db.session.scalar(select(User))
        assert user.has_2fa
        raw = _db.session.execute(text("SELECT totp_secret FROM users")).scalar()
        assert secret not in raw  # encrypted at rest
        hashes = _db.session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert "Two-factor authentication is on" in outbox[-1]["Subject"]
    assert "Two-factor authentication turned on" in client.get("/account/security").get_data(as_text=True)


def test_sign_in_asks_for_the_code_and_a_code_works_only_once(app, client, outbox):
    auth = _signed_in(client, outbox)
    secret, _ = turn_on_2fa(client)
    auth.logout()
    response = auth.login()
    assert response.headers["Location"] == "/login/2fa"
    assert client.get("/account").status_code == 302  # not signed in before the code
    code = totp_now(secret, offset_steps=1)  # next step: the enabling code's step is already used
    response = submit(client, "/login/2fa", {"code": code})
    assert response.status_code == 303
    assert client.get("/account").status_code == 200

    other = app.test_client()
    AuthActions(other, outbox).login()
    replay = submit(other, "/login/2fa", {"code": code})
    assert replay.status_code == 200
    assert "already used" in replay.get_data(as_text=True)
    assert other.get("/account").status_code == 302


def test_a_recovery_code_works_once_and_the_owner_is_told(app, client, outbox):
    auth = _signed_in(client, outbox)
    _, codes = turn_on_2fa(client)
    auth.logout()
    outbox.clear()
    auth.login()
    assert submit(client, "/login/2fa", {"code": codes[0].upper()}).status_code == 303
    assert client.get("/account").status_code == 200
    notice = next(m for m in outbox if "recovery code was used" in m["Subject"])
    assert "Unused codes left: 9." in notice.get_body(("plain",)).get_content()

    other = app.test_client()
    AuthActions(other, outbox).login()
    again = submit(other, "/login/2fa", {"code": codes[0]})
    assert "already used" in again.get_data(as_text=True)


def test_wrong_codes_are_throttled(client, outbox):
    auth = _signed_in(client, outbox)
    turn_on_2fa(client)
    auth.logout()
    auth.login()
    for _ in range(5):
        assert submit(client, "/login/2fa", {"code": "123456"}).status_code == 200
    assert submit(client, "/login/2fa", {"code": "123456"}).status_code == 429


def test_the_pending_second_step_expires(client, outbox):
    auth = _signed_in(client, outbox)
    turn_on_2fa(client)
    auth.logout()
    auth.login()
    with client.session_transaction() as sess:
        sess["pending_2fa_at"] -= 600
    response = client.get("/login/2fa")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_turning_off_needs_a_code(client, app, outbox):
    _signed_in(client, outbox)
    secret, _ = turn_on_2fa(client)
    wrong = submit(client, "/account/security/2fa", {"code": "111111"}, action="/account/security/2fa/disable")
    assert wrong.status_code == 400
    outbox.clear()
    right = submit(client, "/account/security/2fa", {"code": totp_now(secret, 1)},
                   action="/account/security/2fa/disable")
    assert right.status_code == 303
    with app.app_context():
        user = _db.session.scalar(select(User))
        assert not user.has_2fa and user.totp_secret is None
        assert _db.session.scalars(select(RecoveryCode)).all() == []
    assert "off" in outbox[-1]["Subject"]


def test_new_recovery_codes_replace_the_old_ones(app, client, outbox):
    auth = _signed_in(client, outbox)
    _, old_codes = turn_on_2fa(client)
    outbox.clear()
    response = submit(client, "/account/security/2fa", {}, action="/account/security/2fa/recovery-codes")
    assert response.status_code == 200
    [mail] = [m for m in outbox if "recovery codes" in m["Subject"]]  # the account is told, with a way out
    body = mail.get_body(("plain",)).get_content()
    assert "If this was not you" in body and "/reset-password" in body
    auth.logout()
    auth.login()
    assert "already used" in submit(client, "/login/2fa", {"code": old_codes[1]}).get_data(as_text=True)


def test_2fa_pages_need_a_recent_password(client, app, outbox):
    _signed_in(client, outbox)
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        row.reauthenticated_at -= timedelta(minutes=6)
        _db.session.commit()
    response = client.get("/account/security/2fa")
    assert response.status_code == 302
    assert response.headers["Location"] == "/reauth?next=/account/security/2fa"


def test_turning_on_2fa_ends_the_accounts_other_sessions(client, app, outbox):
    _signed_in(client, outbox)
    elsewhere = app.test_client()  # a session a thief may hold, opened with the password alone
    AuthActions(elsewhere, outbox).login()
    assert elsewhere.get("/account").status_code == 200
    turn_on_2fa(client)
    assert elsewhere.get("/account").status_code == 302
    assert client.get("/account").status_code == 200
    with app.app_context():
        ended = _db.session.scalars(select(UserSession.end_reason).where(UserSession.ended_at.is_not(None))).all()
    assert ended == ["2fa_enabled"]
