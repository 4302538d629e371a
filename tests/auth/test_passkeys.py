"""Passkeys through the real pages, answered by a software authenticator (tests/fixtures/
authenticator.py): adding one, signing in with it alone, as the second factor and to confirm
it is you; replays, copies, other sites and bad input refused; removal, mail, export, erasure."""

import io
import json
import re
import zipfile

import flask_migrate
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import MetaData, insert, select

from app import create_app
from app.auth import twofactor
from app.auth.models import Passkey, RecoveryCode, SecurityEvent, User, UserRole
from app.extensions import db as _db
from app.rights import export, services
from app.timeutil import utcnow
from tests.fixtures.authenticator import SoftAuthenticator, add_passkey, options_in
from tests.fixtures.database import required_values
from tests.fixtures.visitor import PASSWORD_FOR_TESTS, AuthActions, form_token, submit, totp_now, turn_on_2fa

SITE = "http://localhost"


@pytest.fixture
def app(make_app):
    return make_app(SITE_URL=SITE)  # passkeys are bound to a domain name, not 127.0.0.1


@pytest.fixture
def auth(client, outbox):  # this module's own: Alice, signed in
    """Alice, registered and signed in (recently: the passkey pages open without asking again)."""
    actions = AuthActions(client, outbox)
    actions.register()
    actions.login()
    return actions


@pytest.fixture
def device(client, auth):
    """Alice's passkey, added through the security pages, and her signed out."""
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    auth.logout()
    return authenticator


def passkey_sign_in(client, device, **answer):
    page = client.get("/login").get_data(as_text=True)
    credential = device.get(options_in(page), **answer)
    response = client.post("/login/passkey", data={"csrf_token": form_token(page), "credential": credential,
                                                   "next": "/account/keys"}, headers={"Origin": SITE})
    return response, credential


def _signed_in_as(client) -> str | None:
    page = client.get("/account")
    return page.get_data(as_text=True) if page.status_code == 200 else None


def test_a_first_passkey_turns_on_two_factor_gives_recovery_codes_and_is_mailed(client, app, outbox, auth):
    response = add_passkey(client, SoftAuthenticator(synced=True), name="  My   phone ")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert len(re.findall(r"<li><code>[a-z2-9-]{19}</code></li>", page)) == 10
    with app.app_context():
        user = _db.session.scalar(select(User))
        passkey = _db.session.scalar(select(Passkey))
        assert user.has_2fa and not user.has_totp
        assert (passkey.name, passkey.backup_eligible, passkey.backed_up) == ("My phone", True, True)
        assert _db.session.scalar(select(SecurityEvent.tag).where(SecurityEvent.tag == "auth:passkey:add"))
    mail = outbox[-1]
    assert mail["Subject"] == "A passkey was added to your TwtAPI account"
    assert "“My phone” was added" in mail.get_body(("plain",)).get_content()
    listing = client.get("/account/security/passkeys").get_data(as_text=True)
    assert "My phone" in listing and "synced across devices" in listing
    security = client.get("/account/security").get_data(as_text=True)
    assert "1 passkey" in security and "Passkey added" in security


def test_sign_in_with_the_passkey_alone_and_a_replay_of_it_is_refused(client, app, auth, device):
    response, credential = passkey_sign_in(client, device)
    assert response.status_code == 303 and "/login?check=1" in response.headers["Location"]
    assert "next=/account/keys" in response.headers["Location"]
    assert "alice@example.com" in _signed_in_as(client)
    auth.logout()
    page = client.get("/login").get_data(as_text=True)  # the same answer, sent again
    replay = client.post("/login/passkey", data={"csrf_token": form_token(page), "credential": credential},
                         headers={"Origin": SITE})
    assert replay.status_code == 400
    assert "already used" in replay.get_data(as_text=True)
    assert _signed_in_as(client) is None


def test_password_sign_in_of_a_passkey_account_asks_for_the_passkey_or_a_recovery_code(client, app, outbox, auth):
    device = SoftAuthenticator()
    codes = re.findall(r"<li><code>([a-z2-9-]{19})</code></li>", add_passkey(client, device).get_data(as_text=True))
    auth.logout()
    assert auth.login().headers["Location"].endswith("/login/2fa")
    step = client.get("/login/2fa").get_data(as_text=True)
    assert "Enter one of your recovery codes if you cannot use your passkey." in step
    stranger = SoftAuthenticator()  # a passkey of no account here
    stranger.user_handle = device.user_handle
    refused = client.post("/login/2fa/passkey", data={"csrf_token": form_token(step),
                                                      "credential": stranger.get(options_in(step))},
                          headers={"Origin": SITE})
    assert refused.status_code == 400 and "not registered for this account" in refused.get_data(as_text=True)
    step = client.get("/login/2fa").get_data(as_text=True)
    ok = client.post("/login/2fa/passkey", data={"csrf_token": form_token(step),
                                                 "credential": device.get(options_in(step))},
                     headers={"Origin": SITE})
    assert ok.status_code == 303 and _signed_in_as(client)
    auth.logout()  # without JavaScript: the password and a recovery code
    auth.login()
    assert submit(client, "/login/2fa", {"code": codes[0]}).status_code == 303
    assert _signed_in_as(client)


def test_an_answer_for_another_purpose_another_site_or_without_user_verification_is_refused(client, app, outbox, auth):
    device = SoftAuthenticator()
    add_passkey(client, device)
    reauth_page = client.get("/reauth").get_data(as_text=True)
    for_reauth = device.get(options_in(reauth_page))
    auth.logout()
    login_page = client.get("/login").get_data(as_text=True)
    token = form_token(login_page)
    answers = {
        "a confirmation's challenge": for_reauth,
        "another site's page": device.get(options_in(login_page), origin="https://twtapi.example.net"),
        "a made-up challenge": device.get(json.dumps({"challenge": "bm90LW91cnM"})),
        "not JSON": "{not json",
        "bytes": "\xff\x00\ufffe" * 10,
        "too large": "x" * 20_000,
    }
    for case, credential in answers.items():
        response = client.post("/login/passkey", data={"csrf_token": token, "credential": credential},
                               headers={"Origin": SITE})
        assert response.status_code == 400, case
        assert _signed_in_as(client) is None, case
    lazy = SoftAuthenticator(verifies_user=False)  # presence only: no PIN, no biometrics
    lazy.credential_id, lazy.key, lazy.user_handle = device.credential_id, device.key, device.user_handle
    response, _ = passkey_sign_in(client, lazy, count=99)
    assert response.status_code == 400 and _signed_in_as(client) is None


def test_an_answer_to_a_challenge_older_than_five_minutes_is_refused(client, app, auth, device, monkeypatch):
    issued = TimestampSigner.get_timestamp
    with monkeypatch.context() as clock:  # the page was opened 301 seconds ago
        clock.setattr(TimestampSigner, "get_timestamp", lambda signer: issued(signer) - 301)
        page = client.get("/login").get_data(as_text=True)
    response = client.post("/login/passkey", data={"csrf_token": form_token(page),
                                                   "credential": device.get(options_in(page))},
                           headers={"Origin": SITE})
    assert response.status_code == 400 and "That took too long" in response.get_data(as_text=True)
    assert _signed_in_as(client) is None


def test_a_copied_authenticator_is_refused_from_then_on_shown_and_mailed_once(client, app, auth, device, outbox):
    passkey_sign_in(client, device, count=10)
    auth.logout()
    copy = SoftAuthenticator()  # the same key, its counter behind: a clone
    copy.credential_id, copy.key, copy.user_handle = device.credential_id, device.key, device.user_handle
    response, _ = passkey_sign_in(client, copy, count=4)
    assert response.status_code == 400 and "a copy of it exists" in response.get_data(as_text=True)
    response, _ = passkey_sign_in(client, device, count=11)  # the original too: which one is which?
    assert response.status_code == 400 and "a copy of it exists" in response.get_data(as_text=True)
    told = [m for m in outbox if "a copy of it exists" in m["Subject"]]
    assert len(told) == 1 and "“Laptop”" in told[0]["Subject"]  # once, at the moment it was found
    assert "/account/security/passkeys" in told[0].get_body(("plain",)).get_content()
    with app.app_context():
        assert _db.session.scalar(select(Passkey.cloned_at)) is not None
    auth.login()
    recovery = _recovery_sign_in(client, app)
    assert recovery.status_code == 303
    security = client.get("/account/security").get_data(as_text=True)
    assert "Passkey refused: a copy of it exists" in security
    assert "was refused: a copy of it exists" in security


def _recovery_sign_in(client, app):
    """Sign in past the second step with a recovery code made for the test."""
    with app.app_context():
        user = _db.session.scalar(select(User))
        code = twofactor.new_recovery_codes(user, utcnow())[0]
        _db.session.commit()
    return submit(client, "/login/2fa", {"code": code})


def test_reauth_with_a_passkey_and_removing_the_last_one_turns_two_factor_off(client, app, outbox, auth):
    device = SoftAuthenticator()
    add_passkey(client, device)
    with app.app_context():
        for row in _db.session.scalars(select(User)).one().sessions:
            row.reauthenticated_at = None
        passkey_id = _db.session.scalar(select(Passkey.id))
        _db.session.commit()
    asked = client.get("/account/security/passkeys")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/reauth")
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    answer = {"csrf_token": form_token(page), "next": "/account/security/passkeys",
              "credential": device.get(options_in(page))}
    confirmed = client.post("/reauth/passkey", data=answer, headers={"Origin": SITE})
    assert confirmed.headers["Location"] == "/account/security/passkeys"
    step = submit(client, "/account/security/passkeys", {}, action=f"/account/security/passkeys/{passkey_id}/remove")
    assert "It is your last second factor" in step.get_data(as_text=True)
    done = submit(client, "/account/security/passkeys", {"confirmed": "yes"},
                  action=f"/account/security/passkeys/{passkey_id}/remove")
    assert done.status_code == 303
    with app.app_context():
        user = _db.session.scalar(select(User))
        assert not user.has_2fa and _db.session.scalar(select(RecoveryCode.id)) is None
    assert "two-factor authentication is off" in outbox[-1].get_body(("plain",)).get_content()


def test_renaming_needs_a_name_and_another_users_passkey_is_not_found(client, app, outbox, auth):
    add_passkey(client, SoftAuthenticator())
    with app.app_context():
        passkey_id = _db.session.scalar(select(Passkey.id))
    blank = submit(client, "/account/security/passkeys", {"name": "  "},
                   action=f"/account/security/passkeys/{passkey_id}/rename", follow_redirects=True)
    assert "Enter a name of up to 60 characters." in blank.get_data(as_text=True)
    submit(client, "/account/security/passkeys", {"name": "Work key"},
           action=f"/account/security/passkeys/{passkey_id}/rename")
    auth.logout()
    auth.register(email="mallory@example.com")
    auth.login(email="mallory@example.com")
    for action in ("rename", "remove"):
        response = submit(client, "/account/security/passkeys", {"name": "mine", "confirmed": "yes"},
                          action=f"/account/security/passkeys/{passkey_id}/{action}", follow_redirects=True)
        assert "That passkey is no longer on your account." in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(Passkey.name)) == "Work key"


def test_removing_the_app_keeps_two_factor_on_while_a_passkey_is_left(client, app, outbox, auth):
    secret, codes = turn_on_2fa(client)
    add_passkey(client, SoftAuthenticator())
    response = submit(client, "/account/security/2fa", {"code": totp_now(secret, 1)},
                      action="/account/security/2fa/disable")
    assert response.status_code == 303
    with app.app_context():
        user = _db.session.scalar(select(User))
        assert user.has_2fa and not user.has_totp
        assert _db.session.scalar(select(RecoveryCode.id)) is not None
    assert outbox[-1]["Subject"] == "The authenticator app was removed from your TwtAPI account"


def test_staff_meet_the_consoles_second_factor_rule_with_a_passkey(client, app, outbox):
    auth = AuthActions(client, outbox)
    auth.register(email="staff@example.com")
    with app.app_context():
        user = _db.session.scalar(select(User))
        _db.session.add(UserRole(user_id=user.id, role="support"))
        _db.session.commit()
    auth.login(email="staff@example.com")
    assert client.get("/staff/").status_code == 403
    device = SoftAuthenticator()
    add_passkey(client, device)
    assert client.get("/staff/").status_code == 200
    auth.logout()
    response, _ = passkey_sign_in(client, device)
    assert response.status_code == 303 and client.get("/staff/").status_code == 200


def test_the_export_lists_passkeys_without_key_material_and_erasure_removes_them(client, app, outbox, auth):
    add_passkey(client, SoftAuthenticator(), name="Desk key")
    with app.app_context():
        user = _db.session.scalar(select(User))
        archive = b"".join(export.export_zip(user, app.config, "en", utcnow()))
        listing = zipfile.ZipFile(io.BytesIO(archive)).read("passkeys.csv").decode()
        assert "Desk key" in listing and "public_key" not in listing
        assert listing.splitlines()[0].split(",")[:4] == ["name", "created_at", "last_used_at", "discoverable"]
        services.erase_account(user, app.config, utcnow())
        _db.session.commit()
        assert _db.session.scalar(select(Passkey.id)) is None


def test_without_a_domain_name_the_pages_say_passkeys_cannot_be_used(make_app, outbox):
    app = make_app(SITE_URL="http://127.0.0.1:5000")
    client = app.test_client()
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    page = client.get("/account/security/passkeys").get_data(as_text=True)
    assert "this site is served at an IP address" in page and "data-passkey=" not in page
    assert "data-passkey=" not in client.get("/reauth").get_data(as_text=True)
    auth.logout()
    assert "data-passkey=" not in client.get("/login").get_data(as_text=True)


def test_turning_on_the_app_after_a_passkey_keeps_the_recovery_codes_and_says_so(client, app, outbox, auth):
    codes = re.findall(r"<li><code>([a-z2-9-]{19})</code></li>",
                       add_passkey(client, SoftAuthenticator()).get_data(as_text=True))
    assert len(codes) == 10
    setup = client.get("/account/security/2fa").get_data(as_text=True)
    assert "Your existing recovery codes keep working" in setup  # said before
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup).group(1)
    response = submit(client, "/account/security/2fa", {"code": totp_now(secret)},
                      action="/account/security/2fa/enable")
    assert response.status_code == 303
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your existing recovery codes keep working" in after and "<li><code>" not in after  # and after
    assert "Unused recovery codes: 10." in after
    auth.logout()
    auth.login()
    assert submit(client, "/login/2fa", {"code": codes[0]}).status_code == 303  # the first set still works
    assert _signed_in_as(client)


def test_a_second_passkey_keeps_the_recovery_codes_of_the_app(client, app, outbox, auth):
    _, codes = turn_on_2fa(client)
    page = client.get("/account/security/passkeys").get_data(as_text=True)
    assert "Your existing recovery codes keep working" in page
    response = add_passkey(client, SoftAuthenticator())
    assert response.status_code == 303
    assert "<li><code>" not in client.get(response.headers["Location"]).get_data(as_text=True)
    auth.logout()
    auth.login()
    assert submit(client, "/login/2fa", {"code": codes[3]}).status_code == 303
    assert _signed_in_as(client)


def test_passkeys_added_before_the_discoverable_column_are_marked_discoverable(database_factory):
    """They were all made with a resident key required, so the migration says they sign in alone."""
    url = database_factory.new()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(revision="a7d3e9b1c5f2-1")
        tables = MetaData()
        tables.reflect(bind=_db.engine, only=["users", "passkeys"])
        with _db.engine.begin() as conn:
            user_id = conn.execute(insert(tables.tables["users"]).values(
                **required_values(tables.tables["users"], email="old@example.com"))).inserted_primary_key[0]
            conn.execute(insert(tables.tables["passkeys"]).values(**required_values(
                tables.tables["passkeys"], user_id=user_id, credential_id=b"old-credential")))
        flask_migrate.upgrade(revision="a7d3e9b1c5f2")
        assert _db.session.scalar(select(Passkey.discoverable)) is True
        _db.session.remove()
        _db.engine.dispose()


def test_a_key_that_does_not_verify_its_user_confirms_it_is_you_only_with_the_password(client, app, auth):
    key = SoftAuthenticator(verifies_user=False)  # a U2F key: a touch, no PIN
    add_passkey(client, key, name="Touch key")
    listing = client.get("/account/security/passkeys").get_data(as_text=True)
    assert "Not known: your browser did not say" in listing  # this client reported no credProps

    def confirm(password):
        page = client.get("/reauth?next=/account/keys").get_data(as_text=True)
        start = page.index('data-passkey="get"')
        return client.post("/reauth/passkey", data={
            "csrf_token": form_token(page[start:]), "credential": key.get(options_in(page)), "next": "/account/keys",
            "key_password": password}, headers={"Origin": SITE})

    alone = confirm("")
    assert alone.status_code == 400 and "enter your password too" in alone.get_data(as_text=True)
    wrong = confirm("not-the-password")
    assert wrong.status_code == 400 and "Your password is not right." in wrong.get_data(as_text=True)
    both = confirm(PASSWORD_FOR_TESTS)
    assert both.status_code == 303 and both.headers["Location"] == "/account/keys"


def test_a_credential_another_account_keeps_is_refused_not_an_error(client, app, outbox, auth):
    device = SoftAuthenticator()
    add_passkey(client, device)
    auth.logout()
    bob = app.test_client()
    bob_auth = AuthActions(bob, outbox)
    bob_auth.register("bob@example.com")
    bob_auth.login("bob@example.com")
    copy = SoftAuthenticator()
    copy.credential_id, copy.key = device.credential_id, device.key
    response = add_passkey(bob, copy)
    assert response.status_code == 400 and "already registered" in response.get_data(as_text=True)
    with app.app_context():
        assert len(_db.session.scalars(select(Passkey)).all()) == 1
