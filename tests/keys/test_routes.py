"""API keys on /account/keys, as their owner sees them."""

import re
from datetime import timedelta

from sqlalchemy import select

from app.auth.models import UserSession
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.security import hash_token
from tests.fixtures.visitor import AuthActions, bearer, submit


def _signed_in(client, outbox, email="alice@example.com", verify=True):
    auth = AuthActions(client, outbox)
    auth.register(email, verify=verify)
    auth.login(email)
    return auth


def _create(client, name="my app", headers=None, **fields):
    return submit(client, "/account/keys", {"name": name, **fields}, headers=headers or {})


def _secret(response) -> str:
    return re.search(r'value="(twt_[A-Za-z0-9_-]+)"', response.get_data(as_text=True)).group(1)


def test_create_shows_the_secret_once_stores_only_its_hash_and_emails_the_owner(app, client, outbox):
    _signed_in(client, outbox)
    outbox.clear()
    response = _create(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = _secret(response)
    assert len(secret) >= 4 + 43
    with app.app_context():
        key = _db.session.scalar(select(ApiKey))
        assert key.secret_hash == hash_token(secret) and key.prefix == secret[:12]
    listing = client.get("/account/keys").get_data(as_text=True)
    assert secret not in listing and f"{secret[:12]}…" in listing
    assert "new API key" in outbox[-1]["Subject"]
    assert secret not in outbox[-1].as_string()
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 200


def test_signup_bonus_arrives_with_the_confirmed_address(app, client, outbox):
    _signed_in(client, outbox)
    body = client.get("/account").get_data(as_text=True)
    assert f"{app.config['PRICING'].signup_credits} credits" in body


def test_unverified_accounts_cannot_create_keys_and_are_told_why(app, client, outbox):
    _signed_in(client, outbox, verify=False)
    assert "Confirm your e-mail address before creating API keys" in client.get("/account/keys").get_data(as_text=True)
    response = submit(client, "/account/keys", {"name": "x"}, action="/account/keys")
    assert response.status_code == 303
    with app.app_context():
        assert _db.session.scalars(select(ApiKey)).all() == []


def test_creating_a_key_needs_a_recent_password(app, client, outbox):
    _signed_in(client, outbox)
    with app.app_context():
        row = _db.session.scalar(select(UserSession))
        row.reauthenticated_at -= timedelta(minutes=6)
        _db.session.commit()
    response = _create(client, headers={"Referer": "http://localhost/account/keys"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/reauth?next=/account/keys"


def test_per_key_rate_limit_must_stay_below_the_account_limit(client, outbox):
    _signed_in(client, outbox)
    response = _create(client, rate_limit="1000")
    assert response.status_code == 400
    assert "Use at most 60" in response.get_data(as_text=True)


def test_revoke_is_effective_on_the_next_request(app, client, outbox):
    _signed_in(client, outbox)
    secret = _secret(_create(client))
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 200
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    step = submit(client, "/account/keys", {}, action=f"/account/keys/{key_id}/revoke")
    assert step.status_code == 200 and "Revoke the key “my app”?" in step.get_data(as_text=True)  # a step, no JS
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 200  # nothing revoked yet
    response = submit(client, "/account/keys", {"confirmed": "yes"}, action=f"/account/keys/{key_id}/revoke",
                      follow_redirects=True)
    assert "Key “my app” (" in response.get_data(as_text=True) and "revoked; calls with it now get 401." in \
        response.get_data(as_text=True)
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 401


def test_rotation_keeps_the_old_key_for_its_grace_period(app, client, outbox):
    _signed_in(client, outbox)
    old = _secret(_create(client))
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    new = _secret(submit(client, "/account/keys", {"grace_days": "1"}, action=f"/account/keys/{key_id}/rotate"))
    assert new != old
    assert client.get("/api/v1/account", headers=bearer(old)).status_code == 200
    assert client.get("/api/v1/account", headers=bearer(new)).status_code == 200
    with app.app_context():
        key = _db.session.get(ApiKey, key_id)
        key.expires_at -= timedelta(days=2)
        _db.session.commit()
    assert client.get("/api/v1/account", headers=bearer(old)).status_code == 401
    assert client.get("/api/v1/account", headers=bearer(new)).status_code == 200


def test_grace_periods_above_7_days_are_refused(app, client, outbox):
    _signed_in(client, outbox)
    _create(client)
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    response = submit(client, "/account/keys", {"grace_days": "30"}, action=f"/account/keys/{key_id}/rotate")
    assert response.status_code == 400


def test_the_number_of_keys_is_limited(make_app, outbox):
    from dataclasses import replace

    app = make_app()
    app.config["PRICING"] = replace(app.config["PRICING"], max_keys=2)
    client = app.test_client()
    _signed_in(client, outbox)
    assert _create(client, "one").status_code == 200
    assert _create(client, "two").status_code == 200
    third = _create(client, "three")
    assert third.status_code == 400
    assert "Revoke one first" in third.get_data(as_text=True)


def test_a_user_cannot_revoke_or_rotate_another_users_key(app, client, outbox):
    bob = app.test_client()
    _signed_in(bob, outbox, "bob@example.com")
    bob_secret = _secret(_create(bob))
    _signed_in(client, outbox, "alice@example.com")
    with app.app_context():
        bob_key = _db.session.scalar(select(ApiKey.id))
    submit(client, "/account/keys", {"confirmed": "yes"}, action=f"/account/keys/{bob_key}/revoke")
    submit(client, "/account/keys", {"grace_days": "0"}, action=f"/account/keys/{bob_key}/rotate")
    assert client.get("/api/v1/account", headers=bearer(bob_secret)).status_code == 200
    assert "bob" not in client.get("/account/keys").get_data(as_text=True)


def test_key_events_are_on_the_security_page(client, outbox):
    _signed_in(client, outbox)
    _create(client)
    assert "API key created" in client.get("/account/security").get_data(as_text=True)


def _rotate(client, key_id, grace_days):
    return submit(client, "/account/keys", {"grace_days": grace_days}, action=f"/account/keys/{key_id}/rotate")


def test_a_key_is_replaced_once(app, client, outbox):
    _signed_in(client, outbox)
    old = _secret(_create(client))
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    new = _secret(_rotate(client, key_id, "7"))
    again = _rotate(client, key_id, "7")
    assert again.status_code == 303
    page = client.get("/account/keys").get_data(as_text=True)
    assert "That key was replaced already" in page
    with app.app_context():
        assert len(_db.session.scalars(select(ApiKey)).all()) == 2
    for secret in (old, new):
        assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 200


def test_at_the_limit_a_key_is_replaced_without_grace_only(make_app, outbox):
    from dataclasses import replace

    app = make_app()
    app.config["PRICING"] = replace(app.config["PRICING"], max_keys=2)
    client = app.test_client()
    _signed_in(client, outbox)
    _create(client, "one")
    two = _secret(_create(client, "two"))
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id).where(ApiKey.name == "two"))
    refused = _rotate(client, key_id, "1")
    assert refused.status_code == 303
    assert "Replace the key with no grace period, or revoke a key first" in client.get("/account/keys").get_data(
        as_text=True)
    assert client.get("/api/v1/account", headers=bearer(two)).status_code == 200
    new = _secret(_rotate(client, key_id, "0"))
    assert client.get("/api/v1/account", headers=bearer(two)).status_code == 401
    assert client.get("/api/v1/account", headers=bearer(new)).status_code == 200
