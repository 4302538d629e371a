"""Accounts as a visitor sees them: sign-up, verification, sign-in, sessions, reset, profile."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import AccountToken, User, UserSession
from app.extensions import db as _db
from app.security import hash_token
from tests.fixtures.visitor import SAME_ORIGIN, AuthActions, form_token, link_in, submit

PASSWORD = AuthActions.PASSWORD


def _user(app, email="alice@example.com") -> User:
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == email))
        _db.session.expunge_all()
        return user


# --- registration ---------------------------------------------------------------------------


def test_register_creates_an_unverified_account_and_sends_the_link(client, app, outbox):
    response = submit(client, "/register", {
        "email": "  Alice@Example.COM ", "password": PASSWORD, "nickname": "Al", "age_confirmed": "y"})
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    user = _user(app)
    assert user.email == "alice@example.com"
    assert user.nickname == "Al"
    assert not user.is_verified
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.accepted_privacy_version == app.config["PRIVACY_POLICY_VERSION"]
    assert user.accepted_terms_version == app.config["TERMS_VERSION"]
    assert user.age_confirmed_at is not None
    assert [m["To"] for m in outbox] == ["alice@example.com"]
    assert "/verify-email/" in outbox[0].get_body(("plain",)).get_content()
    assert PASSWORD not in outbox[0].as_string()


def test_registering_a_known_address_looks_the_same_and_mails_the_owner(client, auth, outbox):
    auth.register("alice@example.com")
    outbox.clear()
    known = submit(client, "/register", {
        "email": "ALICE@example.com", "password": "another long passphrase", "age_confirmed": "y"})
    new = submit(client, "/register", {
        "email": "bob@example.com", "password": "another long passphrase", "age_confirmed": "y"})
    normalise = lambda r: re.sub(r"(alice|bob)@example\.com|(value|nonce)=\"[^\"]+\"", "X", r.get_data(as_text=True))  # noqa: E731
    assert known.status_code == new.status_code == 200
    assert normalise(known) == normalise(new)
    subjects = {m["To"]: m["Subject"] for m in outbox}
    assert "tried to register" in subjects["alice@example.com"]
    assert "Confirm your e-mail" in subjects["bob@example.com"]


def test_age_confirmation_is_required(client, app):
    response = submit(client, "/register", {"email": "kid@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "confirm your age" in response.get_data(as_text=True)
    assert "I am at least 16 years old" in response.get_data(as_text=True)
    assert _user(app, "kid@example.com") is None


def test_min_age_comes_from_configuration(make_app):
    body = make_app(MIN_AGE=18).test_client().get("/register").get_data(as_text=True)
    assert "I am at least 18 years old" in body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-address"}, "valid e-mail address"),
        ({"password": "short"}, "at least 12"),
        ({"password": "password123456"}, "too common"),
        ({"password": "alice-has-a-secret"}, "must not contain your e-mail"),
        ({"password": "my-TwtAPI-key-2026"}, "must not contain the name of this service"),  # ASVS 5.0 6.2.11
        ({"password": "i love twt api and tea"}, "must not contain the name of this service"),
        ({"nickname": "n" * 41}, "at most 40"),
    ],
)
def test_registration_errors_are_clear_and_keep_nothing(client, app, fields, message):
    data = {"email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y", **fields}
    response = submit(client, "/register", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body
    assert 'aria-invalid="true"' in body
    assert _user(app) is None


def test_registration_errors_in_chinese(client):
    response = submit(client, "/register", {"email": "x", "password": "short", "age_confirmed": "y"},
                      headers={"Accept-Language": "zh-CN"})
    body = response.get_data(as_text=True)
    assert "请输入有效的电子邮箱地址" in body
    assert "至少使用 12 个字符" in body


def test_register_without_csrf_token_is_refused(client, app):
    response = client.post("/register", data={
        "email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y"}, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert _user(app) is None


def test_cross_site_post_is_refused_even_with_a_valid_token(client, app):
    token = form_token(client.get("/register").get_data(as_text=True))
    response = client.post("/register", data={
        "csrf_token": token, "email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y"},
        headers={"Origin": "https://evil.example"})
    assert response.status_code == 400
    assert _user(app) is None


def test_registration_is_throttled_per_ip(make_app):
    client = make_app(REGISTER_RATE_LIMIT="2 per hour").test_client()
    for i in range(2):
        submit(client, "/register", {"email": f"u{i}@example.com", "password": PASSWORD, "age_confirmed": "y"})
    response = submit(client, "/register", {"email": "u9@example.com", "password": PASSWORD, "age_confirmed": "y"})
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)


# --- verification -----------------------------------------------------------------------------


def test_verification_link_works_once(client, app, outbox):
    submit(client, "/register", {"email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y"})
    link = link_in(outbox[0], "/verify-email/")
    assert client.get(link).status_code == 302
    assert _user(app).is_verified
    again = client.get(link)
    assert again.status_code == 400
    assert "does not work" in again.get_data(as_text=True)


def test_verification_link_expires_after_24_hours(client, app, outbox):
    submit(client, "/register", {"email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y"})
    link = link_in(outbox[0], "/verify-email/")
    with app.app_context():
        token = _db.session.scalar(select(AccountToken))
        token.expires_at -= timedelta(hours=25)
        _db.session.commit()
    assert client.get(link).status_code == 400
    assert not _user(app).is_verified


def test_tokens_are_stored_only_as_hashes(client, app, outbox):
    submit(client, "/register", {"email": "alice@example.com", "password": PASSWORD, "age_confirmed": "y"})
    secret = link_in(outbox[0], "/verify-email/").rsplit("/", 1)[1]
    with app.app_context():
        token = _db.session.scalar(select(AccountToken))
        assert token.token_hash == hash_token(secret)
        assert secret not in token.token_hash


def test_unverified_user_can_sign_in_and_is_told_why_keys_and_credits_wait(client, auth, outbox):
    auth.register(verify=False)
    auth.login()
    body = client.get("/account").get_data(as_text=True)
    assert "Please confirm your e-mail address" in body
    assert "cannot create API keys or buy credits" in body


def test_resend_verification_is_throttled(client, auth, outbox):
    auth.register(verify=False)
    auth.login()
    outbox.clear()
    for _ in range(3):
        response = submit(client, "/account", {}, action="/account/verify-email/resend", follow_redirects=True)
        assert "We sent a new link" in response.get_data(as_text=True)
    response = submit(client, "/account", {}, action="/account/verify-email/resend", follow_redirects=True)
    assert "Please wait" in response.get_data(as_text=True)
    assert len(outbox) == 3


# --- sign in and out --------------------------------------------------------------------------


def test_sign_in_goes_through_the_cookie_check_to_the_dashboard(client, auth):
    auth.register()
    response = auth.login()
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?check=1&next=/account"
    response = client.get(response.headers["Location"])
    assert response.headers["Location"] == "/account"
    assert "Hello, Alice" in client.get("/account").get_data(as_text=True)


def test_a_browser_refusing_cookies_is_told_they_are_required(client, auth):
    auth.register()
    auth.login()
    client.delete_cookie("session")
    response = client.get("/login?check=1&next=/account")
    assert response.status_code == 400
    assert "Cookies are required to sign in" in response.get_data(as_text=True)


def test_unknown_address_and_wrong_password_get_the_same_answer(client, auth):
    auth.register()
    wrong = auth.login(password="not the right password")
    unknown = auth.login(email="nobody@example.com")
    strip = lambda r: re.sub(r'(value|nonce)="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert wrong.status_code == unknown.status_code == 200
    assert "The e-mail address or password is not right." in strip(wrong)
    assert strip(wrong) == strip(unknown)


def test_session_id_changes_at_sign_in(client, auth, app):
    auth.register()
    auth.login()
    first = client.get_cookie("session").value
    auth.logout()
    auth.login()
    second = client.get_cookie("session").value
    assert first != second
    with app.app_context():
        hashes = _db.session.scalars(select(UserSession.token_hash)).all()
    assert len(set(hashes)) == 2


def test_remember_me_keeps_the_session_for_30_days(client, auth, app):
    auth.register()
    auth.login(remember=True)
    cookie = client.get_cookie("session")
    assert cookie.expires is not None
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        assert row.remember
        assert row.expires_at - row.created_at == timedelta(days=30)


def test_without_remember_me_the_session_cookie_ends_with_the_browser(client, auth):
    auth.register()
    auth.login()
    assert client.get_cookie("session").expires is None


def test_idle_session_ends_after_30_minutes(client, auth, app):
    auth.register()
    auth.login()
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        row.last_seen_at -= timedelta(minutes=31)
        _db.session.commit()
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with app.app_context():
        assert _db.session.scalar(select(UserSession)).end_reason == "idle"


def test_remembered_session_survives_idling(client, auth, app):
    auth.register()
    auth.login(remember=True)
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        row.last_seen_at -= timedelta(days=3)
        _db.session.commit()
    assert client.get("/account").status_code == 200


def test_logout_ends_the_session_row(client, auth, app):
    auth.register()
    auth.login()
    stolen = client.get_cookie("session").value
    response = auth.logout()
    assert response.status_code == 303
    assert client.get("/account").status_code == 302
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("session", stolen)
    assert client.get("/account").status_code == 302
    with app.app_context():
        assert _db.session.scalar(select(UserSession)).end_reason == "logout"


def test_five_failures_block_the_account_with_429(client, auth):
    auth.register()
    for _ in range(5):
        assert auth.login(password="wrong password again").status_code == 200
    response = auth.login()  # even the right password waits
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_five_failures_block_the_attackers_client_and_not_the_owner(app, client, auth, outbox):
    auth.register()
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    for _ in range(5):
        AuthActions(attacker, outbox).login(password="a guess that is wrong")
    assert AuthActions(attacker, outbox).login().status_code == 429  # the attacker waits
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert AuthActions(owner, outbox).login().status_code == 303  # the owner gets in


@pytest.mark.parametrize("spelling", ["bob0@ｅｘａｍｐｌｅ.org", "BOB0@Example.ORG", " bob0@example.org "])
def test_every_spelling_of_an_address_shares_one_throttle(client, auth, spelling):
    auth.register(email="bob0@example.org")
    for _ in range(5):
        assert auth.login(email=spelling, password="wrong password again").status_code == 200
    assert auth.login(email="bob0@example.org").status_code == 429
    assert auth.login(email=spelling).status_code == 429  # nor does another spelling sign in


def test_a_password_reset_ends_the_lockout_of_the_address(app, client, auth, outbox, monkeypatch):
    from app.auth import services as auth_services

    auth.register()
    monkeypatch.setattr(auth_services, "LOGIN_LIMIT_PER_ACCOUNT", "3 per hour")  # a distributed attack
    for n in range(3):
        guesser = app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        AuthActions(guesser, outbox).login(password="a guess that is wrong")
    assert auth.login().status_code == 429  # the address is locked for everyone
    outbox.clear()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    assert submit(client, link_in(outbox[0], "/reset-password/"), {"password": "a brand new passphrase"}
                  ).status_code == 303
    assert auth.login(password="a brand new passphrase").status_code == 303


def test_unknown_addresses_are_throttled_the_same_way(client):
    for _ in range(5):
        AuthActions(client, []).login(email="ghost@example.com", password="wrong password again")
    assert AuthActions(client, []).login(email="ghost@example.com").status_code == 429


def test_failures_from_one_ip_across_accounts_are_throttled(client):
    actions = AuthActions(client, [])
    for i in range(30):
        actions.login(email=f"user{i}@example.com", password="wrong password again")
    assert actions.login(email="fresh@example.com").status_code == 429


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_next_never_leaves_the_site(client, auth, target):
    auth.register()
    response = auth.login(headers={}, query_string={"next": target})
    follow = client.get(response.headers["Location"])
    assert follow.headers["Location"] == "/account"


def test_next_keeps_same_site_paths(client, auth):
    auth.register()
    response = submit(client, "/login?next=/account/security",
                      {"email": "alice@example.com", "password": PASSWORD, "next": "/account/security"})
    follow = client.get(response.headers["Location"])
    assert follow.headers["Location"] == "/account/security"


def test_portal_pages_send_anonymous_visitors_to_sign_in(client):
    for path in ["/account", "/account/profile", "/account/security"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next={path}"


def test_login_page_sets_no_cookie_until_a_form_is_sent(client):
    assert client.get("/login").headers.getlist("Set-Cookie") == []
    assert client.get("/register").headers.getlist("Set-Cookie") == []


# --- sessions page --------------------------------------------------------------------------


def test_sessions_are_listed_and_an_ended_one_is_rejected_on_its_next_request(app, auth):
    auth.register()
    auth.login(headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"})
    other = app.test_client()
    AuthActions(other, auth.outbox).login(headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari/605.1"})
    page = auth.client.get("/account/security").get_data(as_text=True)
    assert "Firefox · Linux" in page and "Safari · iOS" in page
    with app.app_context():
        other_id = _db.session.scalars(select(UserSession.id).order_by(UserSession.id.desc())).first()
    response = submit(auth.client, "/account/security", {}, action=f"/account/security/sessions/{other_id}/end")
    assert response.status_code == 303
    assert other.get("/account").status_code == 302
    assert auth.client.get("/account").status_code == 200


def test_a_user_cannot_end_another_users_session(app, auth, outbox):
    auth.register("alice@example.com")
    auth.register("bob@example.com")
    bob = app.test_client()
    AuthActions(bob, outbox).login("bob@example.com")
    auth.login("alice@example.com")
    with app.app_context():
        bob_session = _db.session.scalar(
            select(UserSession).join(User).where(User.email == "bob@example.com")).id
    submit(auth.client, "/account/security", {}, action=f"/account/security/sessions/{bob_session}/end")
    assert bob.get("/account").status_code == 200


def test_end_all_other_sessions(app, auth):
    auth.register()
    auth.login()
    others = [app.test_client() for _ in range(2)]
    for other in others:
        AuthActions(other, auth.outbox).login()
    step = submit(auth.client, "/account/security", {}, action="/account/security/sessions/end-others")
    assert "2 other sessions end: those devices are signed out" in step.get_data(as_text=True)
    assert [o.get("/account").status_code for o in others] == [200, 200]  # the step ended nothing
    response = submit(auth.client, "/account/security", {"confirmed": "yes"},
                      action="/account/security/sessions/end-others", follow_redirects=True)
    assert "2 other sessions ended; those devices are signed out." in response.get_data(as_text=True)
    assert [o.get("/account").status_code for o in others] == [302, 302]
    assert auth.client.get("/account").status_code == 200


# --- password reset ---------------------------------------------------------------------------


def test_reset_request_answers_the_same_for_known_and_unknown_addresses(client, auth, outbox):
    auth.register()
    outbox.clear()
    known = submit(client, "/reset-password", {"email": "alice@example.com"})
    unknown = submit(client, "/reset-password", {"email": "nobody@example.com"})
    strip = lambda r: re.sub(r"(alice|nobody)@example\.com|nonce=\"[^\"]+\"", "X", r.get_data(as_text=True))  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert strip(known) == strip(unknown)
    assert [m["To"] for m in outbox] == ["alice@example.com"]


def test_reset_link_sets_a_new_password_once_and_ends_every_session(app, client, auth, outbox):
    auth.register()
    signed_in = app.test_client()
    AuthActions(signed_in, outbox).login()
    outbox.clear()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    link = link_in(outbox[0], "/reset-password/")
    response = submit(client, link, {"password": "a brand new passphrase"})
    assert response.status_code == 303
    assert signed_in.get("/account").status_code == 302
    assert auth.login(password=PASSWORD).status_code == 200  # old password no longer works
    assert auth.login(password="a brand new passphrase").status_code == 303
    assert client.get(link).status_code == 400  # single use
    assert any("password was changed" in m["Subject"] for m in outbox)


def test_using_the_newer_of_two_reset_links_voids_the_older(client, auth, outbox):
    auth.register()
    outbox.clear()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    submit(client, "/reset-password", {"email": "alice@example.com"})
    older, newer = (link_in(m, "/reset-password/") for m in outbox[:2])
    assert older != newer
    assert submit(client, newer, {"password": "a brand new passphrase"}).status_code == 303
    assert client.get(older).status_code == 400
    assert auth.login(password="a brand new passphrase").status_code == 303


def test_reset_link_expires_after_an_hour(client, auth, app, outbox):
    auth.register()
    outbox.clear()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    link = link_in(outbox[0], "/reset-password/")
    with app.app_context():
        token = _db.session.scalar(select(AccountToken).where(AccountToken.purpose == "reset_password"))
        token.expires_at -= timedelta(minutes=61)
        _db.session.commit()
    assert client.get(link).status_code == 400


def test_reset_refuses_a_weak_password_and_keeps_the_link_valid(client, auth, outbox):
    auth.register()
    outbox.clear()
    submit(client, "/reset-password", {"email": "alice@example.com"})
    link = link_in(outbox[0], "/reset-password/")
    response = submit(client, link, {"password": "short"})
    assert "at least 12" in response.get_data(as_text=True)
    assert client.get(link).status_code == 200


# --- profile ------------------------------------------------------------------------------------


# --- language ---------------------------------------------------------------------------------


def test_account_pages_in_chinese_after_picking_it_in_the_footer(client, auth, app):
    auth.register()
    auth.login()
    response = client.get("/language/zh_Hans?next=/account")
    assert response.headers.getlist("Set-Cookie") == []  # saved in the profile instead
    assert _user(app).locale == "zh_Hans"
    for path in ["/account", "/account/profile", "/account/security"]:
        body = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'lang="zh-Hans"' in body
        assert "退出登录" in body


def test_registering_in_chinese_saves_chinese_for_pages_and_mail(client, app, outbox):
    submit(client, "/register", {"email": "li@example.com", "password": PASSWORD, "age_confirmed": "y",
                                 "transfer_consent": "y"},
           headers={"Accept-Language": "zh-CN"})
    assert _user(app, "li@example.com").locale == "zh_Hans"
    assert "确认" in outbox[0]["Subject"]


def test_a_signed_in_request_loads_session_user_and_roles_in_one_statement_and_commits_nothing(app, client, auth):
    """The user loader reads the session row, the user, the roles and whether a policy notice
    waits in one SELECT, and commits only when the row changed (its last-seen time moves at most
    once a minute)."""
    from sqlalchemy import event

    auth.register()
    auth.login()
    client.get("/account")  # the first page after signing in may record the last-seen time
    statements, commits = [], []
    with app.app_context():
        engine = _db.engine
        on_execute = lambda *args: statements.append(args[2])  # noqa: E731
        on_commit = lambda conn: commits.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        try:
            response = client.get("/account/security")
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)
    assert response.status_code == 200
    loader = [s for s in statements if "FROM user_sessions" in s and "user_roles" in s]
    assert len(loader) == 1 and "policy_notices" in loader[0]
    assert not any(s.lstrip().upper().startswith("SELECT users.") for s in statements)  # no second user load
    assert commits == []
