"""The audit log cannot be altered without detection (OWASP ASVS 5.0 16.4.2): an attacker with
the database alone edits, removes or inserts entries with raw SQL, and `flask audit verify` names
each; the changes the application itself may make (pseudonymising an erased customer, the
retention purge of old entries) keep the chain intact."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from app import retention
from app.audit.services import pseudonymise_subject, record
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory

# The attacker's SQL runs on a connection of its own, and writers race in threads: real commits.
pytestmark = pytest.mark.commits


def entries(app, count=5, start=None):
    with app.app_context():
        from app.extensions import db

        now = start or utcnow()
        for n in range(count):
            record(None, "staff:test", now + timedelta(seconds=n), target=f"customer{n}@example.com",
                   reason=f"ticket SUP-{n}", ip="10.0.0.1")
        db.session.commit()


def ids(app) -> list[int]:
    with app.app_context():
        from app.extensions import db

        return list(db.session.scalars(text("SELECT id FROM audit_log ORDER BY id")))


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def raw(app, statement: str):
    """What an attacker with database access does: plain SQL, around the application."""
    with app.app_context():
        from app.extensions import db

        with db.engine.begin() as conn:
            conn.execute(text(statement))


def test_an_untouched_log_verifies(app, runner):
    entries(app)
    code, output = verify(runner)
    assert code == 0 and "5 entries checked" in output and "chain intact" in output


def test_an_entry_edited_with_raw_sql_is_reported(app, runner):
    entries(app)
    third = ids(app)[2]
    raw(app, f"UPDATE audit_log SET reason = 'nothing to see' WHERE id = {third}")
    code, output = verify(runner)
    assert code == 1 and f"BROKEN entry #{third}: altered" in output


def test_a_target_edited_or_an_entry_removed_or_inserted_is_reported(app, runner):
    entries(app)
    first, second, third, fourth, fifth = ids(app)
    raw(app, f"UPDATE audit_log SET target = 'someone else' WHERE id = {second}")
    raw(app, f"DELETE FROM audit_log WHERE id = {fourth}")
    forged = fifth + 1000
    raw(app, "INSERT INTO audit_log (id, created_at, actor_label, action, prev_hash, row_hash, target_seal) "
             f"VALUES ({forged}, '2026-01-01 00:00:00', 'system', 'staff:forged', 'x', 'y', 'z')")
    code, output = verify(runner)
    assert code == 1
    assert f"entry #{second}: its target was altered" in output
    assert f"entry #{fifth}: the entry before it was removed or replaced" in output
    assert f"entry #{forged}" in output


def test_the_newest_entries_removed_are_reported(app, runner):
    entries(app)
    raw(app, f"DELETE FROM audit_log WHERE id = {ids(app)[-1]}")
    code, output = verify(runner)
    assert code == 1 and "the newest entries were removed" in output


def test_pseudonymising_and_the_retention_purge_keep_the_chain_intact(app, runner):
    entries(app, 3, start=utcnow() - timedelta(days=800))  # past the 24 months
    with app.app_context():
        from app.extensions import db

        user = UserFactory(email="erased@example.com")
        record(None, "staff:user:view", utcnow(), target_user=user, reason="ticket SUP-9")
        db.session.commit()
        pseudonymise_subject(user.id, f"erased-user-{user.id}")
        db.session.commit()
        assert retention.purge(app.config, utcnow())["audit_log.expired"] == 3
    code, output = verify(runner)
    assert code == 0 and "1 entries checked" in output


def test_concurrent_writers_keep_one_chain(app, runner):
    def write(n):
        with app.app_context():
            from app.extensions import db

            record(None, "staff:test", utcnow(), target=f"t{n}", reason=f"thread {n}")
            db.session.commit()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code, output = verify(runner)
    assert code == 0 and "12 entries checked" in output
