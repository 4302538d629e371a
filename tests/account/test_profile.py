"""The profile page as a customer sees it: nickname and language, password, e-mail address."""



from tests.auth.test_routes import _user
from tests.fixtures.visitor import AuthActions, link_in, submit

PASSWORD = AuthActions.PASSWORD


def test_change_nickname_and_language(client, auth, app):
    auth.register()
    auth.login()
    response = submit(client, "/account/profile", {"nickname": "  Ally  ", "locale": "zh_Hans"})
    assert response.status_code == 303
    assert _user(app).nickname == "Ally"
    page = client.get("/account/profile").get_data(as_text=True)
    assert 'lang="zh-Hans"' in page  # the saved language wins over the (absent) browser setting


def test_change_password_needs_the_current_one_and_ends_other_sessions(app, client, auth, outbox):
    auth.register()
    auth.login()
    other = app.test_client()
    AuthActions(other, outbox).login()
    wrong = submit(client, "/account/profile", {
        "password-current_password": "not my password", "password-password": "another long passphrase"},
        action="/account/profile/password", prefix="password")
    assert wrong.status_code == 400
    assert "current password is not right" in wrong.get_data(as_text=True)
    right = submit(client, "/account/profile", {
        "password-current_password": PASSWORD, "password-password": "another long passphrase"},
        action="/account/profile/password", prefix="password")
    assert right.status_code == 303
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302


def test_change_email_confirms_the_new_address_and_tells_the_old_one(client, auth, app, outbox):
    auth.register()
    auth.login()
    outbox.clear()
    response = submit(client, "/account/profile", {
        "email-new_email": "alice.new@example.com", "email-current_password": PASSWORD},
        action="/account/profile/email", prefix="email")
    assert response.status_code == 303
    assert _user(app).email == "alice@example.com"  # not before the link is opened
    assert [m["To"] for m in outbox] == ["alice.new@example.com"]
    client.get(link_in(outbox[0], "/verify-email/"))
    assert _user(app, "alice.new@example.com") is not None
    notice = outbox[-1]
    assert notice["To"] == "alice@example.com"
    assert "alice.new@example.com" in notice.get_body(("plain",)).get_content()


def test_change_email_to_a_taken_address_reveals_nothing(client, auth, app, outbox):
    auth.register("alice@example.com")
    auth.register("bob@example.com")
    auth.login("alice@example.com")
    outbox.clear()
    response = submit(client, "/account/profile", {
        "email-new_email": "bob@example.com", "email-current_password": PASSWORD},
        action="/account/profile/email", prefix="email")
    assert response.status_code == 303
    assert outbox == []
    assert _user(app, "alice@example.com") is not None
