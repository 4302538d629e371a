"""A rights request moves only as REQUEST_TRANSITIONS allows: a closed request is never
reopened, by a service or from the staff page (a form message, never a 500)."""

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.rights import workflow as rights
from app.rights.models import RequestEvent, RequestStatus, RightsRequest, TransitionRefused
from app.states import IllegalTransition
from app.timeutil import utcnow
from tests.rights.test_workflow import _confirmed, _staff, act


def test_confirming_a_completed_request_again_is_refused(db):
    req = RightsRequest(reference="PRV-DONE01", type="access", email="ann@example.com", details="d", locale="en",
                        status=RequestStatus.COMPLETED, closed_at=utcnow())
    _db.session.add(req)
    _db.session.flush()
    with pytest.raises(TransitionRefused) as refused:
        rights.confirm(req, utcnow())
    assert isinstance(refused.value, IllegalTransition)
    assert str(refused.value) == "The rights request is completed: it cannot become received."
    assert req.status == RequestStatus.COMPLETED
    assert _db.session.scalars(select(RequestEvent)).all() == []


def test_a_request_on_hold_cannot_be_started_or_completed_until_released(db):
    req = RightsRequest(reference="PRV-HOLD01", type="access", email="ann@example.com", details="d", locale="en",
                        status=RequestStatus.ON_HOLD)
    _db.session.add(req)
    _db.session.flush()
    with pytest.raises(TransitionRefused):
        rights._event(req, RequestStatus.IN_PROGRESS, utcnow())
    rights._event(req, RequestStatus.OPEN, utcnow())
    assert req.status == RequestStatus.OPEN


def test_staff_starting_a_rejected_request_get_a_message_and_it_stays_rejected(app, client, runner, outbox):
    reference = _confirmed(app, client, outbox)
    staff = _staff(app, runner, outbox)
    assert act(staff, reference, "reject", note="We hold no data for this address.").status_code == 303
    refused = act(staff, reference, "start")
    assert refused.status_code == 400
    assert "Only a received, open or extended request can be started." in refused.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status)) == "rejected"
