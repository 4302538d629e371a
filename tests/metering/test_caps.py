"""Per-key credit caps and the account's monthly spend limit, on both meters (the database meter,
and the Redis meter on one server and on a three-node cluster): what a client sees, what is
charged, and what holds when the limits change while calls are made."""

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.extensions import db as _db
from app.keys import services as keys
from app.keys.models import ApiKey
from app.metering.caps import next_month
from app.organisations.models import Organisation
from app.organisations.services import owners
from app.timeutil import utcnow
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer

USERS = "/api/v1/users/jack"  # 1 credit a call


@pytest.fixture(params=["database", "redis", "redis-cluster"])
def metered(request, make_app):
    """Build an application with the meter of the parameter; apps built with one ``prefix`` share
    Redis like two processes (the database meter shares the database anyway)."""
    if request.param == "database":
        return lambda prefix=None, **overrides: make_app(API_METERING="database", **overrides)
    if request.param == "redis-cluster":
        url, extra = request.getfixturevalue("redis_cluster").url, {"METERING_SHARDS": 4}
    else:
        url, extra = request.getfixturevalue("redis_url"), {}

    def factory(prefix=None, **overrides):
        return make_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url, API_METERING="redis",
                        RATELIMIT_KEY_PREFIX=prefix or f"caps-{uuid.uuid4().hex[:8]}", **{**extra, **overrides})

    return factory


def set_limits(app, org_id, daily=None, monthly=None, spend=None, key_id=None):
    """Set a key's caps and the organisation's spend limit as the portal does (committed, so every
    process follows from its next call)."""
    with app.app_context():
        query = select(ApiKey).where(ApiKey.organisation_id == org_id)
        key = _db.session.scalar(query.where(ApiKey.id == key_id) if key_id else query.order_by(ApiKey.id))
        keys.set_controls(key, None, [], None, (daily, monthly))
        _db.session.get(Organisation, org_id).monthly_spend_limit = spend
        _db.session.commit()
        return key.id


def second_key(app, org_id) -> str:
    with app.test_request_context():
        _key, secret = keys.create_key(_db.session.get(Organisation, org_id), owners(org_id)[0], "second", None, 10,
                                       app.config, utcnow())
        _db.session.commit()
        return secret


def charged(app, org_id) -> tuple[int, int]:
    """(balance in the database, credits the call log holds)."""
    with app.app_context():
        return (_db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id)),
                int(_db.session.scalar(select(func.coalesce(func.sum(ApiCall.credits), 0))
                                       .where(ApiCall.organisation_id == org_id))))


def test_a_keys_daily_cap_gives_402_naming_the_cap_and_the_accounts_other_keys_keep_working(metered):
    app = metered()
    client = app.test_client()
    org_id, secret = make_customer(app, credits=1000)
    set_limits(app, org_id, daily=10)
    assert [client.get(USERS, headers=bearer(secret)).status_code for _ in range(10)] == [200] * 10
    refused = client.get(USERS, headers=bearer(secret))
    assert refused.status_code == 402 and refused.mimetype == "application/problem+json"
    problem = refused.json
    assert problem["code"] == "key_cap_reached" and problem["type"].endswith("/docs/api#error-key_cap_reached")
    assert (problem["period"], problem["limit"], problem["used"], problem["balance"]) == ("day", 10, 10, 990)
    assert "daily cap of 10 credits" in problem["detail"] and "not the organisation's balance" in problem["detail"]
    tomorrow = (utcnow() + timedelta(days=1)).date()
    assert problem["resets_at"] == f"{tomorrow.isoformat()}T00:00:00Z"
    assert refused.headers["X-Credits-Remaining"] == "990"
    assert client.get(USERS, headers=bearer(second_key(app, org_id))).status_code == 200
    assert charged(app, org_id) == (989, 11)
    account = client.get("/api/v1/account", headers=bearer(secret)).json["data"]  # free, and not capped
    assert account["key"]["caps"] == {"daily": 10, "monthly": None, "used_today": 10, "used_this_month": 10}


def test_a_cap_set_after_spending_counts_what_the_key_spent_before(metered):
    app = metered()
    client = app.test_client()
    org_id, secret = make_customer(app, credits=1000)
    for _ in range(7):
        assert client.get(USERS, headers=bearer(secret)).status_code == 200
    set_limits(app, org_id, monthly=8)
    assert client.get(USERS, headers=bearer(secret)).status_code == 200
    refused = client.get(USERS, headers=bearer(secret))
    assert refused.status_code == 402 and refused.json["period"] == "month" and refused.json["used"] == 8
    assert "monthly cap of 8 credits" in refused.json["detail"]
    set_limits(app, org_id, monthly=None)  # lifted: the next call works
    assert client.get(USERS, headers=bearer(secret)).status_code == 200
    assert charged(app, org_id) == (991, 9)


def test_the_monthly_spend_limit_covers_every_key_and_answers_429_until_the_month_ends(metered):
    app = metered()
    client = app.test_client()
    org_id, secret = make_customer(app, credits=1000)
    other = second_key(app, org_id)
    set_limits(app, org_id, spend=5)
    codes = [client.get(USERS, headers=bearer(k)).status_code for k in (secret, other, secret, other, secret)]
    assert codes == [200] * 5
    refused = client.get(USERS, headers=bearer(other))
    assert refused.status_code == 429 and refused.json["code"] == "spend_limit_reached"
    assert refused.json["type"].endswith("/docs/api#error-spend_limit_reached")
    assert (refused.json["limit"], refused.json["used"]) == (5, 5)
    reset = next_month(utcnow())
    assert refused.json["resets_at"] == reset.isoformat() + "Z"
    assert abs(int(refused.headers["Retry-After"]) - (reset - utcnow()).total_seconds()) < 30
    assert charged(app, org_id) == (995, 5)
    account = client.get("/api/v1/account", headers=bearer(secret)).json["data"]
    assert account["spend_limit"] == {"monthly": 5, "used_this_month": 5, "resets_at": reset.isoformat() + "Z"}
    set_limits(app, org_id, spend=6)
    assert client.get(USERS, headers=bearer(other)).status_code == 200


def test_a_cap_changed_in_one_process_holds_in_another_on_its_next_call(metered):
    prefix = f"caps-shared-{uuid.uuid4().hex[:8]}"
    portal, gateway = metered(prefix), metered(prefix)  # two processes: two key caches, one store
    org_id, secret = make_customer(portal, credits=1000)
    client = gateway.test_client()
    assert client.get(USERS, headers=bearer(secret)).status_code == 200  # the key is cached now
    set_limits(portal, org_id, daily=1)
    refused = client.get(USERS, headers=bearer(secret))
    assert refused.status_code == 402 and refused.json["code"] == "key_cap_reached", refused.get_data(as_text=True)
    set_limits(portal, org_id, daily=3)
    assert [client.get(USERS, headers=bearer(secret)).status_code for _ in range(3)] == [200, 200, 402]
    set_limits(portal, org_id, daily=3, spend=2)
    assert client.get(USERS, headers=bearer(second_key(portal, org_id))).json["code"] == "spend_limit_reached"


@dataclass
class Backend:
    """A data backend on loopback: ``seen`` holds the paths it was asked for; ``during`` is
    called with each request's number (1, 2, …) before it answers."""

    url: str
    seen: list
    during: Callable[[int], None] = lambda n: None


@pytest.fixture
def backend():
    """A data backend on loopback that counts the requests it gets."""
    state = Backend("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            state.seen.append(self.path)
            state.during(len(state.seen))
            body = json.dumps({"data": {"username": "jack"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


def test_a_cap_refusal_before_the_backends_work_calls_nothing_and_charges_nothing(metered, backend):
    """With an upstream backend the gateway checks before fetching: a capped key costs the
    backend no request."""
    app = metered(UPSTREAM_API_URL=backend.url)
    client = app.test_client()
    org_id, secret = make_customer(app, credits=1000)
    set_limits(app, org_id, daily=1)
    assert client.get(USERS, headers=bearer(secret)).status_code == 200
    assert client.get(USERS, headers=bearer(secret)).status_code == 402
    assert len(backend.seen) == 1 and charged(app, org_id) == (999, 1)


def race(base: str, secret: str, callers: int) -> list[int]:
    """``callers`` concurrent calls released at once by a barrier; their statuses."""
    results, lock, barrier = [], threading.Lock(), threading.Barrier(callers)

    def call():
        request = urllib.request.Request(base + USERS, headers={"Authorization": f"Bearer {secret}"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("meter", ["database", "redis"])
def test_two_hundred_callers_racing_for_a_cap_of_k_spend_exactly_k(meter, make_app, serve, request):
    """Real concurrent clients against gunicorn (2 workers x 8 threads): a key with 1,000 credits
    on the account and a daily cap of 40 gets exactly 40 calls through, 160 get 402 naming the cap."""
    env = {"API_METERING": "database"}
    if meter == "redis":
        url = request.getfixturevalue("redis_url")
        env = {"REDIS_URL": url, "RATELIMIT_STORAGE_URI": url, "API_METERING": "redis",
               "RATELIMIT_KEY_PREFIX": f"caps-race-{uuid.uuid4().hex[:8]}"}
    app = make_app(API_METERING="database")
    org_id, secret = make_customer(app, credits=1000, rate_limit=1000)
    set_limits(app, org_id, daily=40)
    base = serve(**env)
    statuses = race(base, secret, 200)
    assert (statuses.count(200), statuses.count(402)) == (40, 160)
    deadline = datetime.now() + timedelta(seconds=20)
    while charged(app, org_id) != (960, 40) and datetime.now() < deadline:  # the flusher's batches
        threading.Event().wait(0.2)
    assert charged(app, org_id) == (960, 40)


def test_a_cap_lowered_while_a_call_is_in_flight_holds_from_the_next_call(metered, backend):
    """Another process lowers the cap while the backend is answering a call: the Redis meter's
    script sees the key changed and the gateway decides on the key as it is now; the database
    meter settles that call on the key it read. Either way the next call follows the new cap,
    and what is charged is what was served."""
    prefix = f"caps-flight-{uuid.uuid4().hex[:8]}"
    portal = metered(prefix)
    org_id, secret = make_customer(portal, credits=1000)
    set_limits(portal, org_id, daily=5)
    lowered = []

    def lower_during_the_second_fetch(n):  # the first call is served as usual: 1 credit of the cap spent
        if n == 2:
            set_limits(portal, org_id, daily=1)
            lowered.append(True)

    backend.during = lower_during_the_second_fetch
    gateway = metered(prefix, UPSTREAM_API_URL=backend.url)
    client = gateway.test_client()
    assert client.get(USERS, headers=bearer(secret)).status_code == 200
    in_flight = client.get(USERS, headers=bearer(secret))
    after = client.get(USERS, headers=bearer(secret))
    assert lowered
    if gateway.extensions["twtapi_meter"].name == "redis":  # nothing is served on the old cap
        assert in_flight.status_code == 402 and in_flight.json["code"] == "key_cap_reached"
    else:
        assert in_flight.status_code == 200
    served = 2 if in_flight.status_code == 200 else 1
    assert after.status_code == 402 and after.json["code"] == "key_cap_reached"
    assert charged(portal, org_id) == (1000 - served, served)
