"""The audit log is append-only."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from app import retention
from app.audit.models import AuditEntry
from app.audit.services import AuditLogIsAppendOnly, pseudonymise_subject, record
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory


@pytest.fixture
def entry(db):
    created = record(None, "staff:test", utcnow(), target="alice@example.com", reason="ticket SUP-1", ip="10.0.0.1")
    db.session.commit()
    return created


def test_entries_are_appended(db, entry):
    stored = db.session.scalar(select(AuditEntry))
    assert (stored.action, stored.actor_label, stored.target, stored.reason) == (
        "staff:test", "system", "alice@example.com", "ticket SUP-1")


def test_the_orm_refuses_to_change_an_entry(db, entry):
    entry.reason = "rewritten history"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_to_delete_an_entry(db, entry):
    db.session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    update(AuditEntry).values(reason="x"),
    delete(AuditEntry),
    AuditEntry.__table__.update().values(reason="x"),
    AuditEntry.__table__.delete(),
])
def test_bulk_statements_are_refused(db, entry, statement):
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.execute(statement)
    db.session.rollback()
    assert db.session.scalar(select(AuditEntry)).reason == "ticket SUP-1"


def test_pseudonymising_an_erased_subject_is_the_one_allowed_change(db):
    user = UserFactory(email="gone@example.com")
    record(None, "staff:user:view", utcnow(), target_user=user, reason="ticket")
    db.session.commit()
    assert pseudonymise_subject(user.id, "erased-user-1") == 1
    db.session.commit()
    assert db.session.scalar(select(AuditEntry)).target == "erased-user-1"


def test_entries_are_kept_24_months_then_purged(app, db, entry):
    counts = retention.purge(app.config, utcnow() + timedelta(days=729))
    assert counts["audit_log.expired"] == 0
    counts = retention.purge(app.config, utcnow() + timedelta(days=731))
    assert counts["audit_log.expired"] == 1
    assert _db.session.scalars(select(AuditEntry)).all() == []
