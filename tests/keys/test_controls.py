"""What a leaked key can do, as its owner sets it: endpoint groups (scopes), an IP allowlist, an
expiry with its reminder, and a rename that keeps the secret. Refusals cost nothing."""

import re
from datetime import date, timedelta

from sqlalchemy import func, select, update

from app.extensions import db as _db
from app.keys import services
from app.keys.models import ApiKey
from app.organisations.models import Organisation
from app.timeutil import utcnow
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer, submit
from tests.keys.test_routes import _create, _secret, _signed_in

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def state(app):
    """(balance, calls logged) of the only customer."""
    with app.app_context():
        return _db.session.scalar(select(Organisation.credit_balance)), _db.session.scalar(
            select(func.count()).select_from(ApiCall))


def test_a_read_only_users_key_bound_to_one_address_with_a_daily_cap_refuses_the_rest_for_free(app, client, outbox):
    """The issue's walk-through, as a new customer: a users:read key bound to 127.0.0.1 with a
    10-credit daily cap; a tweets call (403), ten users calls (200), the eleventh (402 naming the
    cap), a call from elsewhere (403); then an alert threshold, and exactly one mail when crossed."""
    _signed_in(client, outbox)
    in_a_month = (date.today() + timedelta(days=30)).isoformat()
    secret = _secret(_create(client, "users only", access="some", scopes="users:read", allowed_ips="127.0.0.1",
                             valid_until=in_a_month, daily_cap="10"))
    before = state(app)
    scope = client.get("/api/v1/tweets/search?q=python", headers=bearer(secret))
    assert scope.status_code == 403 and scope.mimetype == "application/problem+json"
    assert scope.json["code"] == "missing_scope" and scope.json["scope"] == "tweets:read"
    assert scope.json["type"].endswith("/docs/api#error-missing_scope") and "users:read" in scope.json["detail"]
    assert state(app) == before  # not charged
    assert [client.get("/api/v1/users/jack", headers=bearer(secret)).status_code for _ in range(10)] == [200] * 10
    capped = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert capped.status_code == 402 and capped.json["code"] == "key_cap_reached"
    assert "daily cap of 10 credits" in capped.json["detail"]
    assert "not the organisation's balance" in capped.json["detail"]
    elsewhere = client.get("/api/v1/users/jack", headers=bearer(secret), environ_base=ELSEWHERE)
    assert elsewhere.status_code == 403 and elsewhere.json["code"] == "ip_not_allowed"
    assert "203.0.113.9" in elsewhere.json["detail"] and elsewhere.json["ip"] == "203.0.113.9"
    balance, _calls = state(app)
    assert balance == before[0] - 10  # only the ten calls were charged
    account = client.get("/api/v1/account", headers=bearer(secret)).json["data"]["key"]
    assert account == {"scopes": ["users:read"], "allowed_ips": ["127.0.0.1/32"],
                       "expires_at": f"{in_a_month}T00:00:00Z",
                       "caps": {"daily": 10, "monthly": None, "used_today": 10, "used_this_month": 10}}
    # An alert at two credits below the balance: exactly one mail when a call crosses it.
    saved = submit(client, "/account/alerts", {"thresholds": str(balance - 2), "spend_limit": ""},
                   follow_redirects=True)
    assert f"falls to {balance - 2} credits" in saved.get_data(as_text=True)
    other = _secret(_create(client, "uncapped"))
    outbox.clear()
    for _ in range(4):
        assert client.get("/api/v1/users/jack", headers=bearer(other)).status_code == 200
    low = [m for m in outbox if "running low" in m["Subject"]]
    assert len(low) == 1 and f"now {balance - 2}" in low[0].get_body(("plain",)).get_content()


def test_an_expired_key_gets_401_saying_expired(app, client, outbox):
    _signed_in(client, outbox)
    secret = _secret(_create(client, "short-lived", valid_until=(date.today() + timedelta(days=1)).isoformat()))
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    with app.app_context():
        _db.session.execute(update(ApiKey).values(valid_until=utcnow() - timedelta(minutes=1)))
        _db.session.commit()
    response = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 401 and response.json["code"] == "expired"
    assert "expired on" in response.json["detail"] and "invalid_token" in response.headers["WWW-Authenticate"]
    assert "expired" in client.get("/account/keys").get_data(as_text=True)
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    later = (date.today() + timedelta(days=10)).isoformat()  # a later date brings it back, same secret
    saved = submit(client, f"/account/keys/{key_id}", {"name": "short-lived", "access": "all", "valid_until": later})
    assert saved.status_code == 303, saved.get_data(as_text=True)[-3000:]
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200


def test_bad_controls_are_refused_with_a_message_and_nothing_is_created(app, client, outbox):
    _signed_in(client, outbox)
    cases = [({"allowed_ips": "10.0.0.300"}, "is not an IPv4 or IPv6 address"),
             ({"allowed_ips": "\n".join(f"10.0.0.{i}" for i in range(51))}, "at most 50 entries"),
             ({"access": "some"}, "Choose at least one group"),
             ({"access": "some", "scopes": "admin:write"}, "is not a valid choice"),
             ({"valid_until": date.today().isoformat()}, "Choose a day after today."),
             ({"valid_until": "31/02/2027"}, "Not a valid date value")]
    for fields, message in cases:
        response = _create(client, "bad", **fields)
        assert response.status_code == 400 and message in response.get_data(as_text=True), fields
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_rename_and_change_controls_keep_the_secret_and_apply_on_the_next_call(app, client, outbox):
    _signed_in(client, outbox)
    secret = _secret(_create(client, "CI"))
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    page = client.get(f"/account/keys/{key_id}").get_data(as_text=True)
    assert 'value="CI"' in page and "Every endpoint" in page
    saved = submit(client, f"/account/keys/{key_id}", {"name": "CI runner", "access": "some", "scopes": "tweets:read",
                                                        "allowed_ips": "192.0.2.0/24\n2001:db8::/32"},
                   follow_redirects=True)
    assert "Key “CI runner” saved" in saved.get_data(as_text=True)
    assert client.get("/api/v1/tweets/1", headers=bearer(secret), environ_base={"REMOTE_ADDR": "192.0.2.77"}
                      ).status_code == 200
    assert client.get("/api/v1/tweets/1", headers=bearer(secret)).json["code"] == "ip_not_allowed"  # 127.0.0.1
    assert client.get("/api/v1/tweets/1", headers=bearer(secret), environ_base={"REMOTE_ADDR": "2001:db8::5"}
                      ).status_code == 200
    assert client.get("/api/v1/users/jack", headers=bearer(secret), environ_base={"REMOTE_ADDR": "2001:db8::5"}
                      ).json["code"] == "missing_scope"
    listed = client.get("/account/keys").get_data(as_text=True)
    assert "CI runner" in listed and "<code>tweets:read</code>" in listed and "2 addresses" in listed


def test_another_customers_key_cannot_be_edited(app, client, outbox):
    other_id, _secret_other = make_customer(app, "bob@example.com")
    with app.app_context():
        bob_key = _db.session.scalar(select(ApiKey.id).where(ApiKey.organisation_id == other_id))
    _signed_in(client, outbox)
    assert client.get(f"/account/keys/{bob_key}").status_code == 404
    response = submit(client, "/account/keys", {"name": "mine now"}, action=f"/account/keys/{bob_key}")
    assert response.status_code == 404


def test_one_reminder_seven_days_before_the_chosen_expiry_even_when_the_job_runs_twice(app, client, outbox,
                                                                                         runner):
    _signed_in(client, outbox)
    _create(client, "soon", valid_until=(date.today() + timedelta(days=6)).isoformat())
    _create(client, "later", valid_until=(date.today() + timedelta(days=30)).isoformat())
    outbox.clear()
    for _ in range(2):
        assert runner.invoke(args=["keys", "remind-expiring"]).exit_code == 0
    reminders = [m for m in outbox if "expires on" in m["Subject"]]
    assert len(reminders) == 1 and '"soon"' in reminders[0]["Subject"]
    assert "00:00 UTC" in reminders[0].get_body(("plain",)).get_content()
    with app.app_context():  # choosing another date arms a new reminder
        key = _db.session.scalar(select(ApiKey).where(ApiKey.name == "soon"))
        services.set_controls(key, None, [], key.valid_until + timedelta(days=1))
        _db.session.commit()
        assert services.remind_expiring(app.config, utcnow()) == 1


def test_the_key_page_explains_every_control_in_both_languages(client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    page = client.get("/account/keys").get_data(as_text=True)
    assert "users:read" in page and "/api/v1/users/{username}" in page and "ip_not_allowed" in page
    client.get("/language/zh_Hans")
    assert re.search("仅限这些分组.*允许的 IP 地址", client.get("/account/keys").get_data(as_text=True), re.S)


def test_a_rotated_key_keeps_its_controls(app, client, outbox):
    _signed_in(client, outbox)
    _create(client, "bound", access="some", scopes="users:read", allowed_ips="127.0.0.1")
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    new_secret = _secret(submit(client, "/account/keys", {"grace_days": "0"}, action=f"/account/keys/{key_id}/rotate"))
    assert client.get("/api/v1/users/jack", headers=bearer(new_secret)).status_code == 200
    assert client.get("/api/v1/tweets/1", headers=bearer(new_secret)).json["code"] == "missing_scope"
    assert client.get("/api/v1/users/jack", headers=bearer(new_secret), environ_base=ELSEWHERE).status_code == 403
