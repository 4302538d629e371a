"""A breach's stage moves forward only (BREACH_TRANSITIONS): a closed breach is reopened as
confirmed, never sent back to a suspicion; the refusal reaches staff as a form message (409)."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.breaches import services as breaches
from app.breaches.models import Breach, BreachStage, StageRefused
from app.extensions import db as _db
from app.states import IllegalTransition
from app.timeutil import utcnow
from tests.fixtures.factories import UserFactory
from tests.fixtures.visitor import submit
from tests.staff.test_console import staff_client

AWARE = datetime(2026, 12, 1, 9, 0)


def _stage_changes() -> int:
    return _db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "privacy:breach:stage")) or 0


def test_a_closed_breach_is_not_sent_back_to_a_suspicion_but_may_be_reopened(db):
    officer = UserFactory(email="dpo@example.com")
    breach = breaches.record("Laptop lost", AWARE, None, officer, AWARE)
    breaches.set_stage(breach, BreachStage.CLOSED, officer, AWARE + timedelta(days=1))
    with pytest.raises(StageRefused) as refused:
        breaches.set_stage(breach, BreachStage.SUSPECTED, officer, AWARE + timedelta(days=2))
    assert isinstance(refused.value, IllegalTransition)
    assert str(refused.value) == "The breach is closed: it cannot become suspected."
    assert breach.stage == BreachStage.CLOSED and breach.closed_at == AWARE + timedelta(days=1)
    assert _stage_changes() == 1  # the refused move left no audit row
    breaches.set_stage(breach, BreachStage.CONFIRMED, officer, AWARE + timedelta(days=3))
    assert breach.stage == BreachStage.CONFIRMED and breach.closed_at is None


def test_staff_moving_a_contained_breach_back_get_a_message_not_an_error(app, runner, outbox):
    officer = staff_client(app, runner, outbox, email="dpo@example.com", roles=("privacy",))
    recorded = submit(officer, "/staff/breaches", {"title": "Readable export",
                                                   "aware_at": utcnow().strftime("%Y-%m-%dT%H:%M")})
    reference = recorded.headers["Location"].rsplit("/", 1)[1]
    assert submit(officer, f"/staff/breaches/{reference}", {"action": "stage", "stage": "contained"}).status_code == 303
    refused = submit(officer, f"/staff/breaches/{reference}", {"action": "stage", "stage": "suspected"})
    assert refused.status_code == 409
    assert "A breach that is contained cannot move to suspected." in refused.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(Breach.stage)) == "contained"
