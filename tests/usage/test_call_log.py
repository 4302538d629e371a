"""The call-log explorer at /account/usage/calls, as a customer uses it (and an attacker tries it)."""

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db as _db
from app.keys.models import ApiKey
from app.timeutil import utcnow
from app.usage import call_log
from app.usage.models import ApiCall
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer


@pytest.fixture
def customer(app, client, outbox):
    org_id, secret = make_customer(app, credits=1000)
    AuthActions(client, outbox).login()
    return org_id, secret


def request_ids(body: str) -> list[str]:
    return re.findall(r"<code>([0-9a-f]{32})</code>", body)


def test_a_pasted_request_id_finds_its_call_with_its_credits(client, customer):
    _, secret = customer
    answer = client.get("/api/v1/users/jack/tweets", headers=bearer(secret))
    client.get("/api/v1/users/jack", headers=bearer(secret))
    wanted = answer.headers["X-Request-Id"]
    body = client.get(f"/account/usage/calls?request_id=%20{wanted.upper()}%20").get_data(as_text=True)
    assert request_ids(body) == [wanted]
    assert "/api/v1/users/{username}/tweets" in body
    assert '<td class="num" data-label="Credits"><div class="cell">5</div></td>' in body  # the credits it cost


def test_filters_by_endpoint_status_key_and_date(app, client, customer):
    org_id, secret = customer
    for path in ["/api/v1/users/jack", "/api/v1/users/jack/tweets", "/api/v1/users/bad-name!"]:
        client.get(path, headers=bearer(secret))
    assert len(request_ids(client.get("/account/usage/calls").get_data(as_text=True))) == 3
    refused = client.get("/account/usage/calls?status=4xx").get_data(as_text=True)
    assert len(request_ids(refused)) == 1 and '<div class="cell">400</div></td>' in refused
    tweets = client.get("/account/usage/calls?path=/api/v1/users/{username}/tweets").get_data(as_text=True)
    assert len(request_ids(tweets)) == 1
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    assert len(request_ids(client.get(f"/account/usage/calls?key={key_id}").get_data(as_text=True))) == 3
    today = utcnow().date()
    yesterday = today - timedelta(days=1)
    assert request_ids(client.get(f"/account/usage/calls?until={yesterday}").get_data(as_text=True)) == []
    body = client.get(f"/account/usage/calls?since={yesterday}&until={today}").get_data(as_text=True)
    assert len(request_ids(body)) == 3


def test_pages_walk_back_in_time_without_gaps_or_repeats(app, client, customer, monkeypatch):
    _, secret = customer
    monkeypatch.setattr(call_log, "PAGE_SIZE", 4)
    made = [client.get("/api/v1/users/jack", headers=bearer(secret)).headers["X-Request-Id"] for _ in range(10)]
    with app.app_context():  # three calls in one instant: the id breaks the tie
        _db.session.execute(update(ApiCall).values(created_at=utcnow().replace(microsecond=0)))
        _db.session.commit()
    seen, url = [], "/account/usage/calls?status=2xx"
    while url:
        body = client.get(url).get_data(as_text=True)
        seen += request_ids(body)
        older = re.search(r'href="([^"]+)" rel="next"', body)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert sorted(seen) == sorted(made) and len(seen) == 10
    assert "status=2xx" in client.get(f"/account/usage/calls?status=2xx&before={'x' * 300}").get_data(as_text=True)


@pytest.mark.parametrize("query, message", [
    ("request_id=not-an-id", "32 characters"),
    ("since=2026-13-45", "Not a valid date"),
    ("since=2026-11-20&until=2026-11-01", "The end date is before the start date."),
    ("key=abc", "Invalid Choice"),
    ("path=/api/v1/nothing", "Not a valid choice"),
    ("status=%00", "Not a valid choice"),
])
def test_bad_filters_get_a_form_error_never_a_500(client, customer, query, message):
    response = client.get(f"/account/usage/calls?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert client.get(f"/account/usage/calls.csv?{query}").status_code == 400


def test_stray_parameters_are_ignored_not_echoed_into_links(client, customer):
    _, secret = customer
    client.get("/api/v1/users/jack", headers=bearer(secret))
    response = client.get("/account/usage/calls?endpoint=x&_external=1&_anchor=y&status=2xx")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert len(request_ids(body)) == 1
    assert 'href="/account/usage/calls.csv?status=2xx"' in body  # the CSV link keeps the filter, nothing else


def test_another_accounts_key_or_request_id_shows_nothing(app, client, outbox):
    _, bob_key = make_customer(app, "bob@example.com")
    bobs = client.get("/api/v1/users/jack", headers=bearer(bob_key)).headers["X-Request-Id"]
    with app.app_context():
        bobs_key_id = _db.session.scalar(select(ApiKey.id))
    make_customer(app, "alice@example.com")
    AuthActions(client, outbox).login("alice@example.com")
    assert request_ids(client.get(f"/account/usage/calls?request_id={bobs}").get_data(as_text=True)) == []
    assert client.get(f"/account/usage/calls?key={bobs_key_id}").status_code == 400  # not one of hers
    assert "No calls yet" in client.get("/account/usage/calls").get_data(as_text=True)


def test_the_csv_holds_what_the_filters_select(client, customer):
    _, secret = customer
    for path in ["/api/v1/users/jack", "/api/v1/users/jack/tweets", "/api/v1/users/jack"]:
        client.get(path, headers=bearer(secret))
    response = client.get("/account/usage/calls.csv?path=/api/v1/users/{username}")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["endpoint"] for r in rows] == ["/api/v1/users/{username}"] * 2
    assert secret not in response.get_data(as_text=True)


def test_calls_past_retention_are_not_shown(app, client, customer):
    _, secret = customer
    client.get("/api/v1/users/jack", headers=bearer(secret))
    with app.app_context():
        _db.session.execute(update(ApiCall).values(
            created_at=utcnow() - timedelta(days=app.config["CALL_LOG_DAYS"] + 1)))
        _db.session.commit()
    assert request_ids(client.get("/account/usage/calls").get_data(as_text=True)) == []


def test_the_explorer_in_chinese(client, customer):
    body = client.get("/account/usage/calls", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "调用记录" in body


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=2026-01-01&until=9999-12-31", "since=9999-12-31",
                                   "since=0001-01-01"])
def test_a_day_out_of_range_is_a_form_error_before_any_byte_of_the_csv(client, customer, query):
    page = client.get(f"/account/usage/calls?{query}")
    assert page.status_code == 400 and "Choose a day from 2000-01-01 to 2999-12-31." in page.get_data(as_text=True)
    download = client.get(f"/account/usage/calls.csv?{query}")
    assert download.status_code == 400 and download.mimetype == "text/html"
    assert "Choose a day from 2000-01-01 to 2999-12-31." in download.get_data(as_text=True)
