"""Outages of a dependency: a real Redis of the test's own that is stopped and started again, and
a database that cannot be reached. Each has a defined answer: 503 with Retry-After (a page, or a
problem document under /api), /healthz names what is down, nothing is charged or lost."""

import logging

import pytest

from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer, submit


def _redis_app(make_app, url, **overrides):
    return make_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url, API_METERING="redis", **overrides)


def test_with_redis_down_sign_in_and_reset_answer_503_and_healthz_says_why(make_app, own_redis, outbox):
    app = _redis_app(make_app, own_redis.url)
    client = app.test_client()
    AuthActions(client, outbox).register()
    assert client.get("/healthz").get_json()["redis"] == "ok"
    own_redis.stop()
    for page, data in (("/login", {"email": "alice@example.com", "password": "whatever it is"}),
                       ("/reset-password", {"email": "alice@example.com"})):
        response = submit(client, page, data)
        assert response.status_code == 503, page
        assert response.headers["Retry-After"]
        assert "briefly unavailable" in response.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["redis"] == "unavailable"
    assert health.get_json()["database"] == "ok"


def test_after_redis_returns_the_first_calls_succeed(make_app, own_redis, outbox):
    app = _redis_app(make_app, own_redis.url)
    _, secret = make_customer(app, credits=100)
    client = app.test_client()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert AuthActions(client, outbox).login(password="wrong password here").status_code == 200
    own_redis.stop()
    down = client.get("/api/v1/users/jack", headers=bearer(secret))
    assert down.status_code == 503 and down.mimetype == "application/problem+json"
    own_redis.start()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
    assert AuthActions(client, outbox).login(password="wrong password here").status_code == 200


def test_a_revoked_key_stops_even_when_redis_restarted_empty(make_app, own_redis):
    app = _redis_app(make_app, own_redis.url)
    organisation_id, secret = make_customer(app, credits=100)
    serving = app.test_client()
    assert serving.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200  # key cached
    own_redis.stop()
    own_redis.start()  # its data is gone, the epoch with it
    other = _redis_app(make_app, own_redis.url)  # another process revokes the key
    with other.test_request_context():
        from app.extensions import db
        from app.keys.models import ApiKey
        from app.timeutil import utcnow

        key = db.session.query(ApiKey).filter_by(organisation_id=organisation_id).one()
        key.revoked_at = utcnow()
        db.session.commit()
    assert serving.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401


def test_one_outage_logs_one_traceback_then_counts(make_app, own_redis, caplog):
    app = _redis_app(make_app, own_redis.url)
    _, secret = make_customer(app, credits=100)
    client = app.test_client()
    own_redis.stop()
    with caplog.at_level(logging.ERROR):
        for _ in range(20):
            assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 503
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1


def test_a_database_that_cannot_be_reached_answers_503_not_500(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    client = app.test_client()
    page = submit(client, "/login", {"email": "alice@example.com", "password": "whatever it is"})
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert "briefly unavailable" in page.get_data(as_text=True)
    api = client.get("/api/v1/account", headers={"Authorization": "Bearer twt_" + "x" * 43})
    assert api.status_code == 503 and api.mimetype == "application/problem+json"


def test_connections_killed_by_a_database_restart_are_replaced_without_an_error(make_app, database_factory, outbox):
    """A PostgreSQL restart ends every connection in the pool; the next requests must not fail."""
    if database_factory.backend != "postgresql":
        pytest.skip("SQLite has no server connection to lose: this runs in the PostgreSQL pass (CI)")
    from sqlalchemy import text

    from app.extensions import db

    app = make_app()
    client = app.test_client()
    AuthActions(client, outbox).register()
    AuthActions(client, outbox).login()
    assert client.get("/account").status_code == 200  # the pool now holds a live connection
    with app.app_context():
        pids = [row[0] for row in db.session.execute(text("SELECT pg_backend_pid()"))]
        db.session.remove()  # back to the pool, where the restart will find it
    with database_factory.admin() as conn:
        killed = sum(conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] for pid in pids)
    assert killed >= 1
    assert [client.get("/account").status_code for _ in range(5)] == [200] * 5


def test_pages_show_the_spendable_balance_and_still_open_when_redis_is_down(make_app, own_redis, outbox):
    """The balance on the overview is what the API's X-Credits-Remaining says (charges not yet
    written to the database included); with Redis down the page still opens, with the stored one."""
    app = _redis_app(make_app, own_redis.url, METERING_FLUSH="external")  # records wait in Redis
    _, secret = make_customer(app, credits=1000)
    client = app.test_client()
    AuthActions(client, outbox).login()
    called = client.get("/api/v1/users/jack", headers=bearer(secret))
    remaining = int(called.headers["X-Credits-Remaining"])
    assert remaining < 1000
    assert f"{remaining} credits" in client.get("/account").get_data(as_text=True)
    own_redis.stop()
    page = client.get("/account")
    assert page.status_code == 200 and "1,000 credits" in page.get_data(as_text=True)
