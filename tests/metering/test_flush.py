"""Call records metered in Redis reach the call log, the ledger and the roll-ups: once, also after a crash."""

import logging
import threading
import time

from sqlalchemy import delete, func, select

from app.billing.models import CreditEntry
from app.extensions import db as _db
from app.keys.models import ApiKey
from app.metering.flush import run_flusher
from app.metering.types import unpack
from app.metering.write import write_records
from app.organisations.models import Organisation
from app.usage.models import ApiCall, UsageDaily
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import bearer


def totals(app, org_id):
    """(calls logged, usage ledger rows, balance, ledger sum, calls in the roll-ups)."""
    with app.app_context():
        calls = _db.session.scalar(select(func.count()).select_from(ApiCall)
                                   .where(ApiCall.organisation_id == org_id))
        usage = _db.session.scalar(select(func.count()).select_from(CreditEntry)
                                   .where(CreditEntry.organisation_id == org_id, CreditEntry.kind == "usage"))
        balance = _db.session.scalar(select(Organisation.credit_balance).where(Organisation.id == org_id))
        ledger = _db.session.scalar(select(func.coalesce(func.sum(CreditEntry.amount), 0))
                                    .where(CreditEntry.organisation_id == org_id))
        rolled = _db.session.scalar(select(func.coalesce(func.sum(UsageDaily.calls), 0))
                                    .where(UsageDaily.organisation_id == org_id))
        return calls, usage, balance, int(ledger), int(rolled)


def call(app, secret, times=1, path="/api/v1/users/jack"):
    client = app.test_client()
    return [client.get(path, headers=bearer(secret)).status_code for _ in range(times)]


def test_the_background_flusher_writes_calls_soon_after_they_are_served(redis_app):
    app = redis_app(METERING_FLUSH="background", METERING_FLUSH_INTERVAL_SECONDS=0.05)
    org_id, secret = make_customer(app, credits=100)
    assert call(app, secret, 4) == [200] * 4
    deadline = time.monotonic() + 15
    while totals(app, org_id)[0] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert totals(app, org_id) == (4, 4, 96, 96, 4)
    with app.app_context():
        assert _db.session.scalar(select(ApiKey.last_used_at)) is not None


def test_records_left_by_a_process_that_died_are_written_once(redis_app):
    app = redis_app(METERING_FLUSH="external")
    meter = app.extensions["twtapi_meter"]
    org_id, secret = make_customer(app, credits=100)
    assert call(app, secret, 3) == [200] * 3
    taken = meter.read_records("worker-that-died", 100)  # delivered to it, never acknowledged
    assert len(taken) == 3
    assert totals(app, org_id)[0] == 0
    result = app.test_cli_runner().invoke(args=["usage", "flush", "--claim-idle", "0"])
    assert result.exit_code == 0, result.output
    assert "3 call records written; 0 still waiting" in result.output
    assert totals(app, org_id) == (3, 3, 97, 97, 3)


def test_a_crash_between_commit_and_acknowledgement_counts_nothing_twice(redis_app):
    app = redis_app(METERING_FLUSH="external")
    meter = app.extensions["twtapi_meter"]
    org_id, secret = make_customer(app, credits=100)
    assert call(app, secret, 2, "/api/v1/users/jack/tweets") == [200, 200]
    with app.app_context():
        entries = meter.read_records("crashed", 100)
        with _db.engine.begin() as conn:  # the batch is committed, then the process dies
            write_records(conn, [unpack(fields) for *_, fields in entries])
    assert totals(app, org_id) == (2, 2, 90, 90, 2)
    app.test_cli_runner().invoke(args=["usage", "flush", "--claim-idle", "0"])
    assert totals(app, org_id) == (2, 2, 90, 90, 2)
    assert meter.pending_count() == 0
    assert meter.balance(org_id) == 90  # nothing is counted as still on its way


def test_calls_of_a_deleted_organisation_are_not_logged(redis_app):
    app = redis_app(METERING_FLUSH="external")
    org_id, secret = make_customer(app, credits=100)
    assert call(app, secret) == [200]
    with app.app_context():
        _db.session.execute(delete(Organisation.__table__).where(Organisation.id == org_id))
        _db.session.commit()
    app.test_cli_runner().invoke(args=["usage", "flush"])
    assert totals(app, org_id)[0] == 0
    assert app.extensions["twtapi_meter"].pending_count() == 0


def test_flush_command_with_the_database_meter_says_there_is_nothing_to_do(make_app):
    app = make_app(API_METERING="database")
    result = app.test_cli_runner().invoke(args=["usage", "flush"])
    assert result.exit_code == 0
    assert "nothing waits to be written" in result.output
    assert "API metering" in app.test_cli_runner().invoke(args=["show-config"]).output


def test_the_database_meter_writes_a_call_in_few_statements_and_a_keys_last_use_once_a_minute(make_app):
    """A charged call through the database meter: the key lookup, then one conditional charge,
    the ledger row, the call, the roll-up; the key's last use only when it is a minute old."""
    from sqlalchemy import event

    app = make_app(API_METERING="database")
    _, secret = make_customer(app, credits=10)
    client = app.test_client()
    assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200  # marks the key used
    statements = []
    with app.app_context():
        listener = lambda *args: statements.append(args[2].split()[0].upper() + " " + args[2])  # noqa: E731
        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/api/v1/users/jack", headers=bearer(secret)).status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        assert not any("UPDATE api_keys" in s for s in statements)
        writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE")]
        assert len(writes) == 4, writes  # balance, ledger row, call, roll-up
        assert _db.session.get(ApiKey, _db.session.scalar(select(ApiKey.id))).last_used_at is not None


def test_healthz_reports_the_records_waiting_for_the_flusher_service(redis_app):
    app = redis_app(METERING_FLUSH="external")
    _, secret = make_customer(app, credits=100)
    assert call(app, secret, 3) == [200] * 3
    health = app.test_client().get("/healthz")
    assert health.status_code == 200  # a backlog is reported, never a reason to leave the load balancer
    waiting = health.get_json()["call_records"]
    assert waiting["waiting"] == 3 and 0 <= waiting["oldest_seconds"] < 60
    app.test_cli_runner().invoke(args=["usage", "flush"])
    assert app.test_client().get("/healthz").get_json()["call_records"] == {"waiting": 0, "oldest_seconds": None}


def wait_for(condition, what: str, seconds: float = 60) -> None:
    """Poll until ``condition()`` holds (the deadline only stops a hung test; nothing is timed)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_redis_outage_is_one_log_line_and_its_end_another(make_app, own_redis, caplog):
    """The flusher service, with its own Redis stopped for many retries and started again: one line
    when the outage starts, none per retry (it logged a traceback on each), one when it ends."""
    app = make_app(REDIS_URL=own_redis.url, RATELIMIT_STORAGE_URI=own_redis.url, API_METERING="redis",
                   METERING_FLUSH="external")
    meter = app.extensions["twtapi_meter"]
    attempts = []
    reads = meter.read_records
    meter.read_records = lambda *args, **kwargs: attempts.append(1) or reads(*args, **kwargs)
    org_id, secret = make_customer(app, credits=100)
    caplog.set_level(logging.INFO, logger="app.metering.flush")
    flusher = threading.Thread(target=run_flusher, args=(app, meter, "outage-test"), daemon=True)
    flusher.start()
    try:
        assert call(app, secret, 2) == [200, 200]
        wait_for(lambda: totals(app, org_id)[0] == 2, "the first calls to be written")
        own_redis.stop()
        tried = len(attempts)
        wait_for(lambda: len(attempts) >= tried + 5, "five retries while Redis is down")
        own_redis.start()
        assert call(app, secret, 1) == [200]
        wait_for(lambda: totals(app, org_id)[0] == 3, "the call after the outage to be written")
    finally:
        meter.stopped.set()
        flusher.join(timeout=30)
    lines = [r for r in caplog.records if r.name == "app.metering.flush"]
    assert [(r.levelname, r.exc_info) for r in lines] == [("WARNING", None), ("INFO", None)]
    down, up = (r.getMessage() for r in lines)
    assert "\n" not in down and "Redis" in down and "retrying" in down
    assert "resumed" in up
