"""The staff console: customers, audited record views, account actions, the audit log, the team."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.extensions import db as _db
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import AuthActions, bearer, submit, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff


def open_record(client, user_id, reason, category="support", reference=""):
    """Open a customer record as staff do: the reason is posted, then the record shown."""
    response = submit(client, f"/staff/users/{user_id}", {"reason": reason, "category": category,
                                                          "reference": reference})
    assert response.status_code == 303
    return client.get(f"/staff/users/{user_id}")


def staff_client(app, runner, outbox, email="staff@example.com", roles=("support",)):
    make_staff(runner, email=email, roles=roles)
    client = app.test_client()
    AuthActions(client, outbox).login(email, PASSWORD)
    turn_on_2fa(client)
    return client


def test_find_a_customer_by_key_prefix_open_with_a_reason_suspend_and_see_it_audited(app, runner, outbox):
    user_id, secret = make_customer(app, "cust@example.com").as_user()
    client = app.test_client()
    AuthActions(client, outbox).login("cust@example.com")
    staff = staff_client(app, runner, outbox, roles=("admin",))
    found = staff.get(f"/staff/users?q={secret[:12]}").get_data(as_text=True)
    assert "cust@example.com" in found
    prompt = staff.get(f"/staff/users/{user_id}")
    assert "Why are you opening this record?" in prompt.get_data(as_text=True)
    record = open_record(staff, user_id, "ticket SUP-123")
    assert record.status_code == 200 and secret[:12] in record.get_data(as_text=True)
    assert secret not in record.get_data(as_text=True)
    response = submit(staff, f"/staff/users/{user_id}",
                      {"action": "suspend", "reason": "fraud check", "confirmed": "yes"},
                      action=f"/staff/users/{user_id}/action")
    assert response.status_code == 303
    flashed = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "cust@example.com is suspended: no sign-in and no API call until unsuspended. They were e-mailed." in flashed
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 401  # the key stops
    assert client.get("/account").status_code == 302  # and the session, on its next request
    assert AuthActions(app.test_client(), outbox).login("cust@example.com").status_code == 403
    audit_page = staff.get("/staff/audit?customer=cust@example.com").get_data(as_text=True)
    assert "<td data-label=\"Action\"><div class=\"cell\">Customer record opened</div></td>" in audit_page
    assert "Account suspended</div>" in audit_page and "ticket SUP-123" in audit_page
    assert any("suspended" in m.get_body(("plain",)).get_content() for m in outbox if m["To"] == "cust@example.com")
    submit(staff, f"/staff/users/{user_id}", {"action": "unsuspend", "reason": "cleared"},
           action=f"/staff/users/{user_id}/action")
    assert client.get("/api/v1/account", headers=bearer(secret)).status_code == 200


def test_actions_need_a_reason(app, runner, outbox):
    user_id, _ = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    submit(staff, f"/staff/users/{user_id}", {"action": "suspend", "reason": ""},
           action=f"/staff/users/{user_id}/action")
    with app.app_context():
        assert _db.session.get(User, user_id).suspended_at is None


def test_support_staff_see_email_and_nickname_but_not_ips(app, runner, outbox):
    user_id, _ = make_customer(app, "cust@example.com").as_user()
    AuthActions(app.test_client(), outbox).login("cust@example.com", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    support = staff_client(app, runner, outbox, roles=("support",))
    page = open_record(support, user_id, "r").get_data(as_text=True)
    assert "cust@example.com" in page and "198.51.100.9" not in page
    admin = staff_client(app, runner, outbox, email="admin2@example.com", roles=("admin",))
    assert "198.51.100.9" in open_record(admin, user_id, "r").get_data(as_text=True)


def test_billing_staff_cannot_suspend(app, runner, outbox):
    user_id, _ = make_customer(app, "cust@example.com").as_user()
    billing = staff_client(app, runner, outbox, roles=("billing",))
    response = submit(billing, f"/staff/users/{user_id}", {"action": "suspend", "reason": "x", "confirmed": "yes"},
                      action=f"/staff/users/{user_id}/action")
    assert response.status_code == 403


def test_revoking_a_customers_key_is_audited_and_effective(app, runner, outbox):
    from app.keys.models import ApiKey

    user_id, secret = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("support",))
    with app.app_context():
        key_id = _db.session.scalar(select(ApiKey.id))
    submit(staff, f"/staff/users/{user_id}", {"action": "revoke-key", "key_id": str(key_id), "confirmed": "yes",
                                                        "reason": "leaked on GitHub"},
           action=f"/staff/users/{user_id}/action")
    assert app.test_client().get("/api/v1/account", headers=bearer(secret)).status_code == 401


@pytest.mark.parametrize(("roles", "path", "status"), [
    (("support",), "/staff/audit", 403), (("billing",), "/staff/audit", 403), (("privacy",), "/staff/audit", 200),
    (("admin",), "/staff/audit", 200), (("privacy",), "/staff/team", 403), (("admin",), "/staff/team", 200),
    (("support",), "/staff/users", 200), (("billing",), "/staff/users", 200),
])
def test_each_role_against_each_console_page(app, runner, outbox, roles, path, status):
    staff = staff_client(app, runner, outbox, roles=roles)
    assert staff.get(path).status_code == status


def test_audit_csv_export_and_rows_cannot_be_changed(app, runner, outbox):
    staff = staff_client(app, runner, outbox, roles=("admin",))
    response = staff.get("/staff/audit.csv?action=staff:")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["time_utc", "staff", "action", "subject", "reason", "ip"]
    assert any(r[2] == "staff:role:grant" for r in rows[1:])


def test_invite_change_roles_and_the_last_admin_rule(app, runner, outbox):
    admin = staff_client(app, runner, outbox, roles=("admin",))
    outbox.clear()
    submit(admin, "/staff/team", {"action": "invite", "email": "new.staff@example.com", "roles": ["support"]})
    invitation = next(m for m in outbox if m["To"] == "new.staff@example.com")
    assert "/reset-password/" in invitation.get_body(("plain",)).get_content()
    with app.app_context():
        newcomer = _db.session.scalar(select(User).where(User.email == "new.staff@example.com"))
        me = _db.session.scalar(select(User).where(User.email == "staff@example.com"))
        assert newcomer.role_names == {"support"}
        newcomer_id, my_id = newcomer.id, me.id
    submit(admin, "/staff/team", {"action": "roles", "user_id": str(newcomer_id), "roles": ["support", "billing"]})
    last = submit(admin, "/staff/team", {"action": "remove", "user_id": str(my_id), "confirmed": "yes"})
    assert last.status_code == 400 and "last admin" in last.get_data(as_text=True)
    step = submit(admin, "/staff/team", {"action": "remove", "user_id": str(newcomer_id)})
    assert "Remove new.staff@example.com from the staff?" in step.get_data(as_text=True)  # a step first, no JS
    with app.app_context():
        assert _db.session.get(User, newcomer_id).role_names == {"support", "billing"}
    done = submit(admin, "/staff/team", {"action": "remove", "user_id": str(newcomer_id), "confirmed": "yes"},
                  follow_redirects=True)
    assert "They are no longer staff" in done.get_data(as_text=True)
    with app.app_context():
        assert _db.session.get(User, newcomer_id).role_names == set()
        actions = set(_db.session.scalars(select(AuditEntry.action)))
    assert {"staff:team:invite", "staff:team:roles"} <= actions


def test_dashboard_shows_what_needs_attention(app, runner, outbox):
    admin = staff_client(app, runner, outbox, roles=("admin",))
    body = admin.get("/staff/").get_data(as_text=True)
    assert "rights requests due this week" in body and "e-mails failing to send" in body
    assert re.search(r"Team and roles", body)


def test_privacy_staff_flag_a_minor_and_place_a_hold_from_the_record(app, runner, outbox):
    from app.rights.models import LegalHold, RightsRequest

    user_id, _ = make_customer(app, "teen@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("privacy",))
    for action in ("minor", "hold"):
        submit(staff, f"/staff/users/{user_id}", {"action": action, "reason": "school report", "confirmed": "yes"},
               action=f"/staff/users/{user_id}/action")
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.minor)) is True
        assert _db.session.scalar(select(LegalHold.reason)) == "school report"


def test_the_reason_for_opening_a_record_is_posted_never_put_in_a_url(app, runner, outbox):
    user_id, _ = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    opened = submit(staff, f"/staff/users/{user_id}", {"reason": "ticket SUP-777 " + "x" * 100_000,
                                                         "category": "support", "reference": "y" * 100_000})
    assert opened.status_code == 303 and opened.headers["Location"] == f"/staff/users/{user_id}"
    acted = submit(staff, f"/staff/users/{user_id}", {"action": "suspend", "reason": "r" * 100_000, "confirmed": "yes"},
                   action=f"/staff/users/{user_id}/action")
    assert acted.headers["Location"] == f"/staff/users/{user_id}"
    page = staff.get(f"/staff/users/{user_id}").get_data(as_text=True)
    assert "ticket SUP-777" in page
    with app.app_context():
        reasons = _db.session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "staff:user:view")).all()
    assert reasons and all(len(reason) <= 300 for reason in reasons)


def test_destructive_account_actions_ask_for_confirmation_first(app, runner, outbox):
    user_id, _ = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    open_record(staff, user_id, "ticket SUP-9")
    asked = submit(staff, f"/staff/users/{user_id}", {"action": "suspend", "reason": "fraud check"},
                   action=f"/staff/users/{user_id}/action")
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Suspend this account?" in page and 'value="fraud check"' in page
    with app.app_context():
        assert _db.session.get(User, user_id).suspended_at is None  # nothing happened yet
    done = submit(staff, f"/staff/users/{user_id}", {"action": "suspend", "reason": "fraud check",
                                                    "confirmed": "yes"}, action=f"/staff/users/{user_id}/action")
    assert done.status_code == 303
    with app.app_context():
        assert _db.session.get(User, user_id).suspended_at is not None


def test_privacy_staff_find_everything_held_for_an_address_without_an_account(app, runner, outbox):
    from tests.fixtures.visitor import submit as send

    visitor = app.test_client()
    send(visitor, "/contact", {"name": "Nia", "email": "nia@example.org", "subject": "sales",
                               "message": "A question about prices, please."})
    privacy = staff_client(app, runner, outbox, roles=("privacy",))
    page = privacy.get("/staff/users?q=nia@example.org").get_data(as_text=True)
    assert "What we hold for this address" in page and "Support conversations" in page
    support = staff_client(app, runner, outbox, email="support@example.com", roles=("support",))
    assert "What we hold for this address" not in support.get("/staff/users?q=nia@example.org").get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action == "privacy:person:lookup")).all() == ["privacy:person:lookup"]
