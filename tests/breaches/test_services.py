"""The breach register's clock and refusals, with a controlled clock: 72 hours from awareness,
no authority notification without the Art. 33(3) contents, none after 72 hours without the
reasons for the delay, the people affected counted from the database, drafts in each language."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.breaches import services as breaches
from app.extensions import db as _db
from tests.fixtures.factories import UserFactory

AWARE = datetime(2026, 12, 1, 9, 0)
CONTENTS = {"title": "Support export left readable", "nature": "A support export was readable by a link.",
            "data_categories": "e-mail addresses, support messages", "scope": None, "people_affected": 40,
            "records_affected": 120, "contact": "privacy@twtapi.com",
            "consequences": "Phishing e-mails to the people concerned.",
            "measures": "Link revoked, exports now need a signed-in staff member."}


@pytest.fixture
def officer(db):
    user = UserFactory(email="dpo@example.com")
    _db.session.commit()
    return user


def test_the_clock_runs_72_hours_from_awareness(db, officer):
    breach = breaches.record("Laptop lost", AWARE, None, officer, AWARE + timedelta(hours=5))
    assert breach.reference.startswith("BR-2026-")
    at_70 = breaches.clock(breach, AWARE + timedelta(hours=70))
    assert at_70.deadline == AWARE + timedelta(hours=72) and round(at_70.hours_left) == 2 and not at_70.overdue
    assert breaches.clock(breach, AWARE + timedelta(hours=73)).overdue
    future = breaches.record("Not yet", AWARE + timedelta(days=9), None, officer, AWARE)
    assert future.aware_at == AWARE  # awareness cannot lie in the future: the clock is never stretched


def test_the_authority_notification_needs_the_article_33_3_contents(db, officer):
    now = AWARE + timedelta(hours=10)
    breach = breaches.record("Support export left readable", AWARE, None, officer, now)
    with pytest.raises(breaches.Refused) as refused:
        breaches.notify_authority(breach, now, None, None, officer, now)
    assert refused.value.missing == ["nature", "data_categories", "people_affected", "contact", "consequences",
                                     "measures"]
    breaches.update(breach, CONTENTS, officer, now)
    with pytest.raises(breaches.Refused) as refused:  # sent in the future, or before we knew
        breaches.notify_authority(breach, now + timedelta(hours=1), None, None, officer, now)
    assert refused.value.missing == ["sent_at"]
    breaches.notify_authority(breach, now, "DPC-2026-77", None, officer, now)
    assert breach.authority_notified_at == now and breach.delay_reason is None
    assert not breaches.clock(breach, now + timedelta(days=10)).overdue


def test_after_72_hours_the_notification_needs_the_reasons_for_the_delay(db, officer):
    now = AWARE + timedelta(hours=80)
    breach = breaches.record("Backup bucket public", AWARE, None, officer, AWARE + timedelta(hours=1))
    breaches.update(breach, CONTENTS, officer, now)
    with pytest.raises(breaches.Refused) as refused:
        breaches.notify_authority(breach, now, None, "  ", officer, now)
    assert refused.value.missing == ["delay_reason"]
    breaches.notify_authority(breach, now, None, "The scope was only known after the forensic copy.", officer, now)
    assert breach.delay_reason.startswith("The scope")
    _db.session.commit()
    actions = _db.session.scalars(select(AuditEntry.action).where(AuditEntry.target == breach.reference)).all()
    assert actions == ["privacy:breach:record", "privacy:breach:update", "privacy:breach:notify"]


def test_people_affected_are_counted_from_the_database(db, officer):
    UserFactory(email="a@example.com")
    UserFactory(email="b@example.com", erased_at=AWARE)  # erased: no longer anyone to tell
    _db.session.commit()
    breach = breaches.record("Accounts table read", AWARE, None, officer, AWARE)
    values = breaches.details_from({**CONTENTS, "scope": "all_accounts", "people_affected": 5}, breach)
    assert values["people_affected"] == _db.session.query(User).filter(User.erased_at.is_(None)).count() == 2
    with pytest.raises(breaches.Refused):
        breaches.count_affected("everyone on earth", breach)


def test_stages_and_drafts_in_each_language(db, officer):
    breach = breaches.record("Support export left readable", AWARE, None, officer, AWARE)
    breaches.update(breach, CONTENTS, officer, AWARE)
    breaches.set_stage(breach, "closed", officer, AWARE + timedelta(days=3))
    assert breach.closed_at == AWARE + timedelta(days=3)
    with pytest.raises(breaches.Refused):
        breaches.set_stage(breach, "forgotten", officer, AWARE)
    subject, text = breaches.draft_notice(breach, "en")
    assert "security incident" in subject and CONTENTS["measures"] in text and breach.reference in text
    chinese_subject, chinese_text = breaches.draft_notice(breach, "zh_Hans")
    assert "安全事件" in chinese_subject and CONTENTS["measures"] in chinese_text
