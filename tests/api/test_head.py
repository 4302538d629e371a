"""HEAD on the API (RFC 9110 9.3.2): the status and headers a GET would get now, without its data,
charging nothing; counted against the key's window and logged like any call. On both meters: the
database's, and Redis's (with its records flushed to the database)."""

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.organisations.models import Organisation
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer

SAME = ("Content-Type", "RateLimit-Policy", "Cache-Control", "WWW-Authenticate", "Allow")


@pytest.fixture(params=["database", "redis"])
def metered(request, make_app):
    """An application metering calls in the database, or in Redis (flushed after each call)."""
    if request.param == "database":
        return make_app(API_METERING="database")
    url = request.getfixturevalue("redis_url")
    return make_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url, API_METERING="redis",
                    RATELIMIT_KEY_PREFIX=f"head-test-{uuid.uuid4().hex[:8]}")


def balances(app, org_id) -> tuple[int, int]:
    """(the meter's balance, the database's)."""
    with app.app_context():
        meter = app.extensions["twtapi_meter"].balance(org_id)
        return meter, _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id))


def logged(app) -> list[tuple[str, int, int]]:
    with app.app_context():
        return [(c.method, c.status, c.credits) for c in _db.session.scalars(select(ApiCall).order_by(ApiCall.id))]


def window_left(response) -> int:
    return int(response.headers["RateLimit"].split("r=")[1].split(";")[0])


def assert_like(head, get):
    assert head.status_code == get.status_code
    assert head.get_data() == b""
    for name in SAME:
        assert head.headers.get(name) == get.headers.get(name), name
    assert set(head.headers.keys()) - {"Content-Length"} == set(get.headers.keys()) - {"Content-Length"}


def test_head_answers_what_a_get_would_get_and_charges_nothing(metered):
    org_id, secret = make_customer(metered, credits=100)
    client = metered.test_client()
    head = client.head("/api/v1/users/jack/tweets", headers=bearer(secret))
    assert head.status_code == 200 and head.mimetype == "application/json"
    assert head.headers["X-Credits-Remaining"] == "100"
    assert balances(metered, org_id) == (100, 100)
    get = client.get("/api/v1/users/jack/tweets", headers=bearer(secret))
    assert_like(head, get)
    assert get.headers["X-Credits-Remaining"] == "95"  # the GET is charged: 5 credits
    assert window_left(get) == window_left(head) - 1  # the HEAD counted against the window like a call
    assert head.headers["X-Request-Id"] != get.headers["X-Request-Id"]
    assert balances(metered, org_id) == (95, 95)
    assert logged(metered) == [("HEAD", 200, 0), ("GET", 200, 5)]


@pytest.mark.parametrize(("path", "credits", "status"), [
    ("/api/v1/tweets/search?q=python", 4, 402),  # costs 10
    ("/api/v1/users/" + "x" * 16, 100, 400),
    ("/api/v1/nothing", 100, 404),
])
def test_head_refuses_as_a_get_would_and_charges_nothing(metered, path, credits, status):
    org_id, secret = make_customer(metered, credits=credits)
    client = metered.test_client()
    head = client.head(path, headers=bearer(secret))
    get = client.get(path, headers=bearer(secret))
    assert get.status_code == status and get.mimetype == "application/problem+json"
    assert_like(head, get)
    assert balances(metered, org_id) == (credits, credits)


def test_head_without_a_key_or_past_the_rate_limit_answers_as_a_get(metered):
    _, secret = make_customer(metered, credits=100, rate_limit=2)
    client = metered.test_client()
    assert_like(client.head("/api/v1/users/jack"), client.get("/api/v1/users/jack"))  # 401
    assert client.head("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    head, get = (client.open("/api/v1/users/jack", method=m, headers=bearer(secret)) for m in ("HEAD", "GET"))
    assert head.status_code == get.status_code == 429 and head.headers["Retry-After"]
    assert_like(head, get)


def test_options_and_405_name_head_among_the_methods(client):
    assert client.options("/api/v1/users/jack").headers["Allow"] == "GET, HEAD, OPTIONS"
    refused = client.post("/api/v1/users/jack")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_a_served_head_ends_at_its_headers(make_app, serve):
    """Through gunicorn: the answer has the GET's headers, no body and no false length."""
    import urllib.request

    app = make_app()
    org_id, secret = make_customer(app, credits=100)
    url = serve(workers=1, threads=2)
    request = urllib.request.Request(f"{url}/api/v1/users/jack", method="HEAD", headers=bearer(secret))
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        assert response.status == 200 and response.headers["Content-Type"] == "application/json"
        assert response.headers["X-Credits-Remaining"] == "100" and response.headers["RateLimit"]
        assert response.headers.get("Content-Length") in (None, "")
        assert response.read() == b""
    with app.app_context():
        assert _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id)) == 100
