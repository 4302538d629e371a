"""A support thread moves only as THREAD_TRANSITIONS allows: nothing sends a thread back to
"new" once staff have seen it; closing and reopening stay free."""

from datetime import datetime

import pytest

from app.contact import services as contact
from app.contact.models import ThreadStatus
from app.states import IllegalTransition
from tests.fixtures.factories import ContactThreadFactory

NOW = datetime(2026, 12, 7, 12, 0)


@pytest.fixture
def thread(db):
    found = ContactThreadFactory()
    assert found.status == ThreadStatus.NEW
    return found


def test_an_assigned_thread_is_never_new_again(thread):
    contact.assign(thread, None, NOW)
    assert thread.status == ThreadStatus.NEW  # nobody picked it up
    contact.set_status(thread, ThreadStatus.OPEN, NOW)
    with pytest.raises(IllegalTransition, match="The support thread is open: it cannot become new."):
        contact.set_status(thread, ThreadStatus.NEW, NOW)
    assert thread.status == ThreadStatus.OPEN


def test_closing_and_reopening_stay_allowed(thread):
    contact.set_status(thread, ThreadStatus.CLOSED, NOW)
    assert thread.closed_at == NOW
    contact.add_customer_reply(thread, "One more thing.", NOW)
    assert thread.status == ThreadStatus.OPEN and thread.closed_at is None
