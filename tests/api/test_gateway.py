"""The metered gateway as an API client sees it."""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.billing.models import CreditEntry
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.organisations.models import Organisation
from app.usage.models import ApiCall, UsageDaily
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer


def balance(app, organisation_id):
    with app.app_context():
        return _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == organisation_id))


def calls(app):
    with app.app_context():
        return _db.session.scalars(select(ApiCall).order_by(ApiCall.id)).all()


def test_a_call_returns_demo_data_charges_once_and_is_logged(app, client):
    org_id, secret = make_customer(app, credits=100)
    response = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 200
    body = response.get_json()
    assert body["data"]["username"] == "jack"
    assert body["meta"]["demo"] is True and "not real" in body["meta"]["notice"]
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).get_json() == body  # deterministic
    assert balance(app, org_id) == 98
    assert response.headers["X-Credits-Remaining"] == "99"
    assert len(response.headers["X-Request-Id"]) == 32
    assert response.headers["RateLimit-Policy"] == '"per-key";q=60;w=60'
    assert response.headers["RateLimit"].startswith('"per-key";r=59;t=')
    logged = calls(app)
    assert [(c.endpoint, c.status, c.credits) for c in logged] == [("/api/v1/users/{username}", 200, 1)] * 2
    assert logged[0].request_id == response.headers["X-Request-Id"]
    with app.app_context():
        ledger = _db.session.scalars(select(CreditEntry.call_id).where(CreditEntry.kind == "usage")).all()
        assert sorted(ledger) == sorted(c.request_id for c in logged)  # every call tied to its charge


@pytest.mark.parametrize(("path", "price"), [
    ("/api/v1/users/jack/tweets", 5), ("/api/v1/tweets/search?q=python", 10), ("/api/v1/tweets/123", 1)])
def test_each_endpoint_costs_its_listed_price(app, client, path, price):
    org_id, secret = make_customer(app, credits=100)
    response = client.get(path, headers=bearer(secret))
    assert response.status_code == 200
    assert response.get_json()["data"]
    assert balance(app, org_id) == 100 - price


def test_account_endpoint_is_free_and_shows_balance_usage_and_limits(app, client):
    org_id, secret = make_customer(app, credits=50)
    client.get("/api/v1/users/jack", headers=bearer(secret))
    data = client.get("/api/v1/account", headers=bearer(secret)).get_json()["data"]
    assert data["balance"] == 49
    assert data["usage_this_month"]["calls"] == 1
    assert data["limits"]["calls_per_minute_per_key"] == 60
    assert balance(app, org_id) == 49
    assert data["organisation"] == {"id": org_id, "name": None, "personal": True, "balance": 49,
                                    "spend_limit": data["spend_limit"], "usage_this_month": data["usage_this_month"]}
    assert data["spend_limit"]["monthly"] is None and data["spend_limit"]["used_this_month"] == 1


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "twt_abc"}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "},
    {"Authorization": "Bearer twt_not-a-real-key"}, {"Authorization": "Bearer sk_live_whatever"},
    {"Authorization": "Bearer " + "x" * 5000},
])
def test_missing_or_malformed_keys_get_401(client, headers):
    response = client.get("/api/v1/users/jack", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["request_id"]


def test_a_key_in_the_query_string_is_refused_saying_why(app, client):
    _, secret = make_customer(app)
    response = client.get(f"/api/v1/users/jack?api_key={secret}")
    assert response.status_code == 401
    assert "Authorization header" in response.get_json()["detail"]
    assert calls(app) == []


def test_revoked_and_expired_keys_are_refused_on_their_next_request(app, client):
    org_id, secret = make_customer(app)
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    with app.app_context():
        key = _db.session.scalar(select(ApiKey))
        key.revoked_at = key.created_at
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401
    with app.app_context():
        key = _db.session.scalar(select(ApiKey))
        key.revoked_at = None
        key.expires_at = key.created_at - timedelta(seconds=1)
        _db.session.commit()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401


def test_402_gives_balance_and_price_and_charges_nothing(app, client):
    org_id, secret = make_customer(app, credits=4)
    response = client.get("/api/v1/tweets/search?q=python", headers=bearer(secret))
    assert response.status_code == 402
    body = response.get_json()
    assert (body["balance"], body["price"]) == (4, 10)
    assert "balance is 4" in body["detail"]
    assert balance(app, org_id) == 4
    assert [(c.status, c.credits) for c in calls(app)] == [(402, 0)]


def test_rate_limit_per_key_gives_429_with_retry_after(app, client):
    _, secret = make_customer(app, rate_limit=3)
    statuses = [client.get("/api/v1/users/jack", headers=bearer(secret)).status_code for _ in range(3)]
    limited = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit"].startswith('"per-key";r=0;')
    assert limited.headers["RateLimit-Policy"] == '"per-key";q=3;w=60'


def test_each_key_has_its_own_window(app, client):
    _, first = make_customer(app, "a@example.com", rate_limit=1)
    _, second = make_customer(app, "b@example.com", rate_limit=1)
    assert client.get("/api/v1/users/jack", headers=bearer(first)).status_code == 200
    assert client.get("/api/v1/users/jack", headers=bearer(second)).status_code == 200
    assert client.get("/api/v1/users/jack", headers=bearer(first)).status_code == 429


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/users/this_name_is_far_too_long", 400),
    ("/api/v1/users/bad-name!", 400),
    ("/api/v1/users/%ff%fe", 400),
    ("/api/v1/tweets/search", 400),
    ("/api/v1/tweets/search?q=" + "x" * 600, 400),
    ("/api/v1/tweets/search?q=%ff%fe%fd", 200),
    ("/api/v1/tweets/12ab", 400),
    ("/api/v1/nothing/here", 404),
])
def test_bad_input_gives_4xx_never_500_and_costs_nothing(app, client, path, status):
    org_id, secret = make_customer(app, credits=100)
    response = client.get(path, headers=bearer(secret))
    assert response.status_code == status
    if status >= 400:
        assert response.mimetype == "application/problem+json"
        assert balance(app, org_id) == 100


def test_other_methods_get_405(app, client):
    _, secret = make_customer(app)
    response = client.post("/api/v1/users/jack", headers=bearer(secret), data=b"x" * 100)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_oversized_request_gets_413(app, client):
    """A body over MAX_CONTENT_LENGTH gets 413 problem+json, whatever the method, and costs nothing."""
    org_id, secret = make_customer(app, credits=50)
    body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    for method in ("post", "get"):
        response = getattr(client, method)("/api/v1/users/jack", headers=bearer(secret), data=body)
        assert response.status_code == 413, method
        assert response.mimetype == "application/problem+json"
        assert "take no body" in response.get_json()["detail"]
    with app.app_context():
        assert _db.session.get(Organisation, org_id).credit_balance == 50
        assert _db.session.scalar(select(func.count()).select_from(ApiCall)) == 0
    assert client.get("/api/v1/users/jack", headers=bearer(secret), data=b"x" * 10).status_code == 200


@pytest.mark.commits
def test_concurrent_calls_never_overspend(app):
    """Twelve calls race for the credits of exactly five: five succeed, the log holds five charges."""
    org_id, secret = make_customer(app, credits=5)
    results = []

    def call():
        results.append(app.test_client().get("/api/v1/users/jack", headers=bearer(secret)).status_code)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] * 5 + [402] * 7
    assert balance(app, org_id) == 0
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(ApiCall).where(ApiCall.credits == 1)) == 5
        assert _db.session.scalar(select(func.sum(CreditEntry.amount))
                                  .where(CreditEntry.organisation_id == org_id)) == 0


def test_another_accounts_key_never_reveals_your_data(app, client):
    alice, alice_key = make_customer(app, "alice@example.com", credits=111)
    bob, bob_key = make_customer(app, "bob@example.com", credits=222)
    client.get("/api/v1/users/jack", headers=bearer(alice_key))
    data = client.get("/api/v1/account", headers=bearer(bob_key)).get_json()["data"]
    assert data["balance"] == 222 and data["organisation"]["id"] == bob != alice
    assert data["usage_this_month"]["calls"] == 0


def test_daily_rollups_stay_current(app, client):
    org_id, secret = make_customer(app, credits=100)
    for path in ["/api/v1/users/jack", "/api/v1/users/jack", "/api/v1/users/bad-name!"]:
        client.get(path, headers=bearer(secret))
    with app.app_context():
        row = _db.session.scalar(select(UsageDaily))
        assert (row.calls, row.credits, row.errors) == (3, 2, 1)


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's hook name
        if self.path.startswith("/fail"):
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"data": {"from": "upstream", "path": self.path}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_calls_are_forwarded_to_the_upstream_backend(make_app, upstream):
    app = make_app(UPSTREAM_API_URL=upstream)
    org_id, secret = make_customer(app, credits=10)
    response = app.test_client().get("/api/v1/users/jack", headers=bearer(secret))
    assert response.get_json() == {"data": {"from": "upstream", "path": "/users/jack"}}
    assert balance(app, org_id) == 9


@pytest.mark.parametrize("target", ["fail", "closed"])
def test_upstream_failure_is_502_and_charges_nothing(make_app, upstream, target):
    url = upstream + "/fail" if target == "fail" else "http://127.0.0.1:1"
    app = make_app(UPSTREAM_API_URL=url, UPSTREAM_TIMEOUT_SECONDS=2)
    org_id, secret = make_customer(app, credits=10)
    response = app.test_client().get("/api/v1/users/jack", headers=bearer(secret))
    assert response.status_code == 502
    assert "nothing was charged" in response.get_json()["detail"]
    assert balance(app, org_id) == 10


def test_low_credit_email_once_per_crossing(make_app, outbox):
    app = make_app(LOW_CREDIT_THRESHOLDS="100,20,0")  # credits, not the default shares of recent use
    client = app.test_client()
    _, secret = make_customer(app, credits=102)
    outbox.clear()
    for _ in range(4):  # 101, 100 (crosses 100), 99, 98
        client.get("/api/v1/users/jack", headers=bearer(secret))
    low = [m for m in outbox if "running low" in m["Subject"]]
    assert len(low) == 1
    assert "now 100" in low[0].get_body(("plain",)).get_content()


def test_openapi_document_lists_every_priced_endpoint(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {e.path for e in app.config["PRICING"].endpoints}
    assert doc["paths"]["/api/v1/tweets/search"]["get"]["x-credits"] == 10
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_openapi_document_states_the_rules_the_gateway_enforces(app, client):
    import re as regex

    doc = client.get("/api/v1/openapi.json").get_json()
    _, secret = make_customer(app, credits=1000)
    for path, item in doc["paths"].items():
        operation = item["get"]
        assert {"401", "402", "405", "413", "429", "503"} <= set(operation["responses"]), path
        for code in ("401", "402", "405", "429", "503"):
            schema = operation["responses"][code]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
        assert "Retry-After" in operation["responses"]["429"]["headers"]
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                pattern = parameter["schema"]["pattern"]
                bad = "x" * 40 if parameter["name"] == "username" else "not-a-number"
                assert not regex.search(pattern, bad)
                called = client.get(path.replace("{" + parameter["name"] + "}", bad), headers=bearer(secret))
                assert called.status_code == 400  # what the document refuses, the gateway refuses
    q = next(p for p in doc["paths"]["/api/v1/tweets/search"]["get"]["parameters"] if p["name"] == "q")
    assert q["schema"]["minLength"] == 1 and not regex.search(q["schema"]["pattern"], "   ")
    assert client.get("/api/v1/tweets/search?q=%20%20", headers=bearer(secret)).status_code == 400


def test_docs_page_explains_auth_prices_limits_and_errors(client):
    body = client.get("/docs/api").get_data(as_text=True)
    for text in ("Authorization: Bearer", "curl", "402", "429", "RateLimit-Policy", "/api/v1/tweets/search"):
        assert text in body
    assert "文档" in client.get("/docs/api", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_options_lists_only_what_works(client):
    response = client.options("/api/v1/users/jack")
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_api_answers_are_never_stored_by_caches(app, client):
    _, secret = make_customer(app)
    for response in (client.get("/api/v1/users/jack", headers=bearer(secret)),
                     client.get("/api/v1/account", headers=bearer(secret)), client.get("/api/v1/nothing")):
        assert response.headers["Cache-Control"] == "no-store"


def test_a_new_accounts_first_calls_send_no_low_credit_mail_and_later_crossings_one_per_window(make_app, outbox):
    from app.billing.services import add_credits
    from app.timeutil import utcnow

    app = make_app(LOW_CREDIT_THRESHOLDS="100,20,0", LOW_CREDIT_MAIL_MINUTES=60)
    client = app.test_client()
    org_id, secret = make_customer(app, credits=0, rate_limit=1000)
    with app.app_context():
        add_credits(_db.session.get(Organisation, org_id), app.config["PRICING"].signup_credits, "signup_bonus",
                    utcnow())
        _db.session.commit()
    outbox.clear()
    start = app.config["PRICING"].signup_credits
    price = 1  # /users/{username}
    calls = start - 19  # down to 19: crosses 20, never 100 (the bonus's own level)
    for _ in range(calls):
        client.get("/api/v1/users/jack", headers=bearer(secret))
    low = [m for m in outbox if "running low" in m["Subject"]]
    assert len(low) == 1 and "now 20" in low[0].get_body(("plain",)).get_content()
    assert re.search(r"/account\?org=\d+#buy", low[0].get_body(("plain",)).get_content())
    for _ in range(19 // price):  # down to 0 within the hour: no second mail
        client.get("/api/v1/users/jack", headers=bearer(secret))
    assert balance(app, org_id) == 0
    assert len([m for m in outbox if "running low" in m["Subject"]]) == 1


def test_the_endpoint_matcher_is_werkzeug_rules_built_once_from_the_price_list(app):
    """Fixed paths win over parameters, one trailing slash is allowed, repeated slashes are not
    merged into a match, and other methods get 405 with the ones that work."""
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    from app.api.services import match

    pricing = app.config["PRICING"]
    assert pricing.routes is pricing.routes  # built once
    assert match(pricing, "/api/v1/tweets/search", "GET").price.path == "/api/v1/tweets/search"
    assert match(pricing, "/api/v1/tweets/20", "GET").params == {"id": "20"}
    assert match(pricing, "/api/v1/users/jack/", "GET").params == {"username": "jack"}
    for path in ("/api/v1/users/jack//", "/api/v1//users/jack", "/api/v1/users/", "/api/v1/nothing"):
        with pytest.raises(NotFound):
            match(pricing, path, "GET")
    with pytest.raises(MethodNotAllowed) as refused:
        match(pricing, "/api/v1/users/jack", "POST")
    assert "GET" in refused.value.valid_methods
