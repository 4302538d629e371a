"""The breach register in the staff console: privacy officers and admins only; recording one,
filling in its contents, a refused notification says what is missing, the drafts show."""

from datetime import timedelta

from sqlalchemy import select, update

from app.breaches.models import Breach
from app.extensions import db as _db
from app.timeutil import utcnow
from tests.fixtures.visitor import submit
from tests.staff.test_console import staff_client


def test_a_privacy_officer_records_a_breach_and_a_late_notification_needs_its_reasons(app, runner, outbox):
    officer = staff_client(app, runner, outbox, email="dpo@example.com", roles=("privacy",))
    aware = (utcnow() - timedelta(hours=80)).strftime("%Y-%m-%dT%H:%M")
    recorded = submit(officer, "/staff/breaches", {"title": "Support export left readable", "aware_at": aware,
                                                   "nature": "A support export was readable by a link."})
    assert recorded.status_code == 303
    reference = recorded.headers["Location"].rsplit("/", 1)[1]
    page = officer.get(f"/staff/breaches/{reference}").get_data(as_text=True)
    assert "72 hours passed" in page and "Still missing:" in page
    assert "Important: a security incident affecting your TwtAPI data" in page and "安全事件" in page
    now = utcnow().strftime("%Y-%m-%dT%H:%M")
    refused = submit(officer, f"/staff/breaches/{reference}", {"action": "notify", "sent_at": now})
    assert refused.status_code == 400
    assert "the categories of personal data" in refused.get_data(as_text=True)
    submit(officer, f"/staff/breaches/{reference}", {
        "action": "details", "title": "Support export left readable", "nature": "A readable export link.",
        "data_categories": "e-mail addresses", "scope": "all_accounts", "people_affected": "",
        "contact": "privacy@twtapi.com", "consequences": "Phishing.", "measures": "Link revoked."})
    late = submit(officer, f"/staff/breaches/{reference}", {"action": "notify", "sent_at": now})
    assert late.status_code == 400 and "the reasons for notifying after 72 hours" in late.get_data(as_text=True)
    done = submit(officer, f"/staff/breaches/{reference}", {"action": "notify", "sent_at": now,
                                                            "delay_reason": "Scope known only after forensics."})
    assert done.status_code == 303
    with app.app_context():
        breach = _db.session.scalar(select(Breach))
        assert breach.authority_notified_at is not None and breach.people_affected >= 1  # counted: the officer


def test_bad_input_gets_messages_and_other_roles_cannot_open_the_register(app, runner, outbox):
    officer = staff_client(app, runner, outbox, email="dpo@example.com", roles=("privacy",))
    bad = submit(officer, "/staff/breaches", {"title": "", "aware_at": "yesterday-ish"})
    assert bad.status_code == 400
    assert "Give the breach a title." in bad.get_data(as_text=True)
    assert "Enter a date and time" in bad.get_data(as_text=True)
    submit(officer, "/staff/breaches", {"title": "x", "aware_at": utcnow().strftime("%Y-%m-%dT%H:%M")})
    with app.app_context():
        reference = _db.session.scalar(select(Breach.reference))
        _db.session.execute(update(Breach).values(aware_at=utcnow()))
        _db.session.commit()
    numbers = submit(officer, f"/staff/breaches/{reference}", {"action": "details", "title": "x",
                                                               "people_affected": "-3", "scope": "nobody"})
    assert numbers.status_code == 400
    assert officer.get("/staff/breaches/BR-0000-0000").status_code == 404
    support = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    assert support.get("/staff/breaches").status_code == 403
    assert "Breaches" not in support.get("/staff/").get_data(as_text=True)
