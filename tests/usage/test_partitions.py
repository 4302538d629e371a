"""The call log at scale: monthly partitions on PostgreSQL, expiry by dropping whole months, and
batched, set-based IP truncation on both databases."""

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app import retention
from app.extensions import db as _db
from app.timeutil import utcnow
from app.usage import partitions
from app.usage.models import ApiCall
from tests.fixtures.factories import UserFactory, org_of

# Partitions are made and dropped on connections of their own (DDL outside the request's
# transaction): real commits, so that DDL never waits on a test's open transaction.
pytestmark = [pytest.mark.usefixtures("db"), pytest.mark.commits]


def add_calls(org_id: int, when: datetime, count: int, ips=("203.0.113.9",), tag: str = "c") -> None:
    rows = [{"request_id": f"{tag}{when:%Y%m%d%H%M}{i:06d}", "organisation_id": org_id, "key_id": None,
             "created_at": when + timedelta(seconds=i % 3600), "method": "GET", "endpoint": "/api/v1/users/{username}",
             "status": 200, "credits": 1, "latency_ms": 3, "ip": ips[i % len(ips)], "ip_truncated": False}
            for i in range(count)]
    _db.session.execute(ApiCall.__table__.insert(), rows)
    _db.session.commit()


def count_calls(*where) -> int:
    return _db.session.scalar(select(func.count()).select_from(ApiCall).where(*where))


def a_customer() -> int:
    """A new customer's organisation, which the calls are made for."""
    user = UserFactory(email=f"calls-{utcnow():%H%M%S%f}@example.com", created_at=utcnow())
    _db.session.commit()
    return org_of(user).id


@pytest.fixture
def postgresql_only(database_factory):
    if database_factory.backend != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite keeps one table (the PostgreSQL pass runs this)")


def attached(conn) -> set[str]:
    return set(partitions.monthly_partitions(conn))


def test_ips_are_truncated_in_batches_of_one_update_each(app, database_factory):
    org_id = a_customer()
    now = utcnow()
    add_calls(org_id, now - timedelta(days=9), 1203, ips=("198.51.100.23", "198.51.100.77", "2001:db8:abcd:12::1"))
    add_calls(org_id, now - timedelta(days=8), 1, ips=("not an address",), tag="bad")  # a proxy's garbage
    add_calls(org_id, now - timedelta(hours=1), 5, tag="recent")
    statements = []

    def watch(_conn, _cursor, statement, *_args):
        statements.append(statement)

    _db.event.listen(_db.engine, "before_cursor_execute", watch)
    try:
        counts = retention.purge(app.config, now, batch_size=500, only="api_calls.ip")
    finally:
        _db.event.remove(_db.engine, "before_cursor_execute", watch)
    assert counts == {"api_calls.ip": 1204}
    updates = [s for s in statements if s.startswith("UPDATE api_calls")]
    # Three batches of at most 500, one statement each (not 1204); PostgreSQL clears the garbage apart.
    assert len(updates) == (4 if database_factory.backend == "postgresql" else 3)
    ips = dict(_db.session.execute(select(ApiCall.ip, func.count()).where(ApiCall.ip_truncated)
                                   .group_by(ApiCall.ip)).all())
    assert ips == {"198.51.100.0": 802, "2001:db8:abcd::": 401, None: 1}
    assert count_calls(ApiCall.ip_truncated.is_(False), ApiCall.ip == "203.0.113.9") == 5  # the recent ones
    assert retention.purge(app.config, now, only="api_calls.ip") == {"api_calls.ip": 0}


def test_expired_months_are_dropped_whole_and_the_rest_deleted_in_batches(app, postgresql_only):
    org_id = a_customer()
    now = utcnow()
    cutoff = now - timedelta(days=app.config["CALL_LOG_DAYS"])
    old_month = partitions.month_start(cutoff - timedelta(days=62))  # wholly before the cutoff
    with _db.engine.begin() as conn:
        conn.execute(text(partitions.create_sql(old_month)))
    add_calls(org_id, old_month + timedelta(days=3), 400, tag="old")
    add_calls(org_id, cutoff - timedelta(days=1), 30, tag="edge")  # in the month the period ends in
    add_calls(org_id, now - timedelta(days=1), 20, tag="new")
    assert count_calls() == 450

    counts = retention.purge(app.config, now, batch_size=7, only="api_calls.expired")
    assert counts == {"api_calls.expired": 430}
    assert count_calls() == 20
    with _db.engine.connect() as conn:
        assert partitions.partition_name(old_month) not in attached(conn)
        assert conn.scalar(text("SELECT to_regclass(:t)"), {"t": partitions.partition_name(old_month)}) is None


def test_partitions_are_made_ahead_and_a_month_already_in_the_default_partition_stays_there(
        app, postgresql_only, caplog):
    org_id = a_customer()
    later = datetime(2031, 5, 20)
    add_calls(org_id, datetime(2031, 7, 2), 3, tag="early")  # no partition yet: the default takes them
    with caplog.at_level(logging.WARNING, logger="app.usage.partitions"):
        created = partitions.ensure(_db.engine, later)
    assert created == ["api_calls_y2031m05", "api_calls_y2031m06", "api_calls_y2031m08"]
    assert "api_calls_y2031m07 not created" in caplog.text
    assert partitions.ensure(_db.engine, later) == []
    with _db.engine.connect() as conn:
        assert {"api_calls_y2031m05", "api_calls_y2031m06", "api_calls_y2031m08"} <= attached(conn)
        assert conn.scalar(text("SELECT count(*) FROM api_calls_default")) == 3
    result = app.test_cli_runner().invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output


def test_on_sqlite_there_is_nothing_to_partition(app, database_factory):
    if database_factory.backend != "sqlite":
        pytest.skip("the SQLite pass checks this")
    assert partitions.ensure(_db.engine, utcnow()) == []
    assert partitions.drop_expired(_db.engine, utcnow()) == 0


def test_a_busy_call_log_is_not_held_up_its_expired_month_is_deleted_in_batches(app, postgresql_only, monkeypatch):
    monkeypatch.setattr(partitions, "DETACH_ATTEMPTS", 1)
    org_id = a_customer()
    now = utcnow()
    old_month = partitions.month_start(now - timedelta(days=app.config["CALL_LOG_DAYS"] + 70))
    with _db.engine.begin() as conn:
        conn.execute(text(partitions.create_sql(old_month)))
    add_calls(org_id, old_month + timedelta(days=1), 12, tag="busy")
    with _db.engine.connect() as reader:  # a long statement of somebody else's still reads the log
        reader.execute(text("SELECT count(*) FROM api_calls"))
        assert partitions.drop_expired(_db.engine, now - timedelta(days=app.config["CALL_LOG_DAYS"])) == 0
    assert retention.purge(app.config, now, only="api_calls.expired") == {"api_calls.expired": 12}
    assert count_calls() == 0


@pytest.mark.parametrize("ip", ["198.51.100.23", "10.0.0.255", "2001:db8:abcd:12::1", "2001:DB8:ABCD:FFFF::",
                                "::ffff:198.51.100.23", "::1", "fe80::1%eth0", "300.1.2.3", ""])
def test_the_database_cuts_each_address_as_truncate_ip_does(app, ip):
    org_id = a_customer()
    add_calls(org_id, utcnow() - timedelta(days=10), 1, ips=(ip,), tag="one")
    retention.purge(app.config, utcnow(), only="api_calls.ip")
    assert _db.session.scalar(select(ApiCall.ip)) == retention.truncate_ip(ip)


def test_partitions_can_be_made_from_a_past_month(app, postgresql_only):
    created = partitions.ensure(_db.engine, datetime(2033, 5, 20), months_ahead=1, since=datetime(2033, 2, 3))
    assert created == [f"api_calls_y2033m{m:02d}" for m in (2, 3, 4, 5, 6)]
