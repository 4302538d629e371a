"""Access transparency, from both sides: what staff do with a customer's data is listed on that
customer's privacy page (role, not name; category, reference, reason), and on nobody else's;
an access tied to nothing of theirs is flagged on the dashboard until reviewed; customers who
ask are e-mailed at each access; the list goes into the export and away with the account."""

import io
import zipfile

from sqlalchemy import select

from app.audit.models import AuditEntry, StaffAccess
from app.auth.models import User
from app.billing.models import Order
from app.contact.models import ContactThread
from app.extensions import db as _db
from app.rights import export, services
from app.timeutil import utcnow
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, submit
from tests.staff.test_console import open_record, staff_client


def customer_client(app, outbox, email):
    client = app.test_client()
    AuthActions(client, outbox).login(email)
    return client


def test_a_customer_sees_the_staff_access_with_its_reason_and_no_one_elses(app, runner, outbox):
    alice_id, _ = make_customer(app, "alice@example.com").as_user()
    make_customer(app, "bob@example.com")
    alice = customer_client(app, outbox, "alice@example.com")
    thread = submit(alice, "/contact", {"name": "Alice", "email": "alice@example.com", "subject": "billing",
                                        "message": "Why was I charged twice?"})
    assert thread.status_code in (200, 303)
    with app.app_context():
        reference = _db.session.scalar(select(ContactThread.reference))
    staff = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    open_record(staff, alice_id, "checking the double charge", category="support", reference=reference)

    page = alice.get("/account/privacy").get_data(as_text=True)
    assert "Staff access to your data" in page
    assert "checking the double charge" in page and reference in page
    assert "Support you asked for" in page and ">Support<" in page  # the role, never the name
    assert "agent@example.com" not in page
    bob = customer_client(app, outbox, "bob@example.com").get("/account/privacy").get_data(as_text=True)
    assert "checking the double charge" not in bob and "None of our staff has accessed your data." in bob
    with app.app_context():
        assert _db.session.scalar(select(StaffAccess.flagged)) is False  # tied to her own conversation


def test_an_unlinked_access_is_flagged_for_review_and_the_review_is_audited(app, runner, outbox):
    user_id, _ = make_customer(app, "carol@example.com").as_user()
    agent = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    open_record(agent, user_id, "just looking", category="fraud", reference="SUP-NOT-HERS")
    admin = staff_client(app, runner, outbox, email="boss@example.com", roles=("admin",))
    dashboard = admin.get("/staff/").get_data(as_text=True)
    assert "Staff access to review" in dashboard and "just looking" in dashboard
    assert "Staff access to review" not in agent.get("/staff/").get_data(as_text=True)  # reviewers only
    with app.app_context():
        access_id = _db.session.scalar(select(StaffAccess.id))
    refused = submit(admin, "/staff/", {"note": ""}, action=f"/staff/accesses/{access_id}/review",
                     follow_redirects=True)
    assert "Say what the review found" in refused.get_data(as_text=True)
    submit(admin, "/staff/", {"note": "agent confirmed a chargeback check"},
           action=f"/staff/accesses/{access_id}/review")
    assert "Nothing to review." in admin.get("/staff/").get_data(as_text=True)
    assert agent.post(f"/staff/accesses/{access_id}/review", data={"note": "x"}).status_code in (400, 403)
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "privacy:access:review"))
        assert entry.target_user_id == user_id and "chargeback" in entry.reason


def test_a_customer_who_asks_is_emailed_at_each_access(app, runner, outbox):
    user_id, _ = make_customer(app, "dave@example.com").as_user()
    dave = customer_client(app, outbox, "dave@example.com")
    assert "/account/notifications#staff_access" in dave.get("/account/privacy").get_data(as_text=True)
    submit(dave, "/account/notifications", {"categories": ["staff_access"]})
    staff = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    open_record(staff, user_id, "answering a question")
    mail = [m for m in outbox if m["To"] == "dave@example.com"][-1]
    assert mail["Subject"] == "Our staff accessed your TwtAPI data"
    text = mail.get_body(("plain",)).get_content()
    assert "role: Support" in text and "answering a question" in text and "agent@example.com" not in text
    open_record(staff, user_id, "answering a question")  # the same access again within the hour: no new mail
    assert len([m for m in outbox if m["To"] == "dave@example.com" and "staff accessed" in m["Subject"]]) == 1
    submit(dave, "/account/notifications", {"categories": []})
    open_record(staff, user_id, "another question")
    assert len([m for m in outbox if m["To"] == "dave@example.com" and "staff accessed" in m["Subject"]]) == 1


def test_opening_an_order_or_a_rights_request_is_an_access_linked_to_it(app, runner, outbox):
    user_id, _ = make_customer(app, "erin@example.com").as_user()
    erin = customer_client(app, outbox, "erin@example.com")
    demo_url = submit(erin, "/account", {"pack": "starter"}, action="/billing/checkout").headers["Location"]
    submit(erin, demo_url, {"choice": "pay"})
    with app.app_context():
        reference = _db.session.scalar(select(Order.reference))
    billing = staff_client(app, runner, outbox, email="money@example.com", roles=("billing",))
    assert billing.get(f"/staff/orders/{reference}").status_code == 200
    page = erin.get("/account/privacy").get_data(as_text=True)
    assert reference in page and "Billing and payments" in page
    with app.app_context():
        access = _db.session.scalar(select(StaffAccess))
        assert (access.role, access.category, access.flagged) == ("billing", "billing", False)


def test_the_export_lists_staff_access_and_erasure_removes_it(app, runner, outbox):
    user_id, _ = make_customer(app, "fay@example.com").as_user()
    staff = staff_client(app, runner, outbox, email="agent@example.com", roles=("support",))
    open_record(staff, user_id, "a legal question", category="legal")
    with app.app_context():
        user = _db.session.get(User, user_id)
        archive = b"".join(export.export_zip(user, app.config, "en", utcnow()))
        listing = zipfile.ZipFile(io.BytesIO(archive)).read("staff_access.csv").decode()
        assert "Legal request" in listing and "a legal question" in listing
        services.erase_account(user, app.config, utcnow())
        _db.session.commit()
        assert _db.session.scalar(select(StaffAccess.id)) is None
