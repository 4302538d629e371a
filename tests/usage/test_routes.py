"""The usage page and its CSV downloads."""

import csv
import io

from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer


def _signed_in_customer(app, client, outbox, credits=100):
    org_id, secret = make_customer(app, credits=credits)
    AuthActions(client, outbox).login()
    return org_id, secret


def test_usage_page_shows_calls_chart_breakdowns_and_balance(app, client, outbox):
    _, secret = _signed_in_customer(app, client, outbox)
    for path in ["/api/v1/users/jack", "/api/v1/users/jack/tweets", "/api/v1/users/bad-name!"]:
        client.get(path, headers=bearer(secret))
    body = client.get("/account/usage?days=7").get_data(as_text=True)
    assert "<svg" in body and "<rect" in body
    assert "/api/v1/users/{username}/tweets" in body
    assert "3 calls in the last 7 days · 6 credits · 1 error<" in body  # plural forms
    assert "94 credits" in body
    assert "test key" in body


def test_usage_page_in_chinese(app, client, outbox):
    _signed_in_customer(app, client, outbox)
    body = client.get("/account/usage", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "API 用量" in body


def test_daily_csv(app, client, outbox):
    _, secret = _signed_in_customer(app, client, outbox)
    client.get("/api/v1/users/jack", headers=bearer(secret))
    response = client.get("/account/usage.csv?days=7")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["day", "calls", "credits", "errors"]
    assert len(rows) == 8
    assert rows[-1][1:] == ["1", "1", "0"]


def test_raw_calls_csv_streams_every_kept_call(app, client, outbox):
    _, secret = _signed_in_customer(app, client, outbox)
    for _ in range(3):
        client.get("/api/v1/users/jack", headers=bearer(secret))
    response = client.get("/account/usage/calls.csv")
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3
    assert rows[0]["endpoint"] == "/api/v1/users/{username}" and rows[0]["credits"] == "1"
    assert secret not in response.get_data(as_text=True)


def test_another_users_calls_never_appear(app, client, outbox):
    _, alice_key = make_customer(app, "alice@example.com")
    make_customer(app, "bob@example.com")
    client.get("/api/v1/users/jack", headers=bearer(alice_key))
    AuthActions(client, outbox).login("bob@example.com")
    rows = list(csv.DictReader(io.StringIO(client.get("/account/usage/calls.csv").get_data(as_text=True))))
    assert rows == []
    assert "0 calls" in client.get("/account/usage").get_data(as_text=True)


def test_dashboard_shows_balance_month_calls_and_keys(app, client, outbox):
    _, secret = _signed_in_customer(app, client, outbox, credits=500)
    client.get("/api/v1/users/jack", headers=bearer(secret))
    body = client.get("/account").get_data(as_text=True)
    assert "499 credits" in body
    assert "test key" in body


def test_next_steps_list_only_what_is_still_to_do_and_go_once_all_are_done(app, client, outbox):
    from tests.fixtures.visitor import submit

    _, secret = _signed_in_customer(app, client, outbox)
    steps = client.get("/account").get_data(as_text=True).split('id="next-title"')[1]
    assert "Make your first call" in steps and "Buy credits when" in steps
    assert "Create an API key" not in steps and "Confirm your e-mail" not in steps
    client.get("/api/v1/users/jack", headers=bearer(secret))
    steps = client.get("/account").get_data(as_text=True).split('id="next-title"')[1]
    assert "Make your first call" not in steps and "Buy credits when" in steps
    checkout = submit(client, "/account", {"pack": app.config["PRICING"].credit_packs[0].id},
                      action="/billing/checkout")
    submit(client, checkout.headers["Location"], {"choice": "pay"})
    assert 'id="next-title"' not in client.get("/account").get_data(as_text=True)
