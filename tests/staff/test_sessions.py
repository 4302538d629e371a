"""Sessions that end when they must (OWASP ASVS 5.0 7.4.2 and 7.4.5), as the customer and the
staff see it: a suspended, flagged, closed or erased account is signed out everywhere at once, and
an admin can end every session in an emergency, with a reason on record."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.extensions import db as _db
from app.rights import services as rights_services
from app.rights import workflow
from app.staff import services as staff_services
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, submit, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff


def signed_in(app, outbox, email):
    client = app.test_client()
    AuthActions(client, outbox).register(email)
    AuthActions(client, outbox).login(email)
    assert client.get("/account").status_code == 200
    return client


def admin(app, runner, outbox, roles=("admin",)):
    make_staff(runner, email="admin@example.com", roles=roles)
    client = app.test_client()
    AuthActions(client, outbox).login("admin@example.com", PASSWORD)
    turn_on_2fa(client)
    return client


def signed_out(client) -> bool:
    response = client.get("/account")
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["suspend", "flag_minor", "close", "erase"])
def test_every_way_an_account_stops_ends_its_sessions(app, runner, outbox, path):
    customer = signed_in(app, outbox, "alice@example.com")
    make_staff(runner, email="admin@example.com", roles=("admin",))
    with app.test_request_context():
        user = _db.session.scalar(select(User).where(User.email == "alice@example.com"))
        staff = _db.session.scalar(select(User).where(User.email == "admin@example.com"))
        now = utcnow()
        if path == "suspend":
            staff_services.suspend(user, staff, "fraud review", app.config, now)
        elif path == "flag_minor":
            workflow.flag_minor(user, staff, now)
        elif path == "close":
            rights_services.close_account(user, app.config, now)
        else:
            rights_services.close_account(user, app.config, now)
            rights_services.erase_account(user, app.config, now)
        _db.session.commit()
    assert signed_out(customer), path


def test_an_admin_ends_every_session_in_an_emergency_with_a_reason_on_record(app, runner, outbox):
    alice, bob = signed_in(app, outbox, "alice@example.com"), signed_in(app, outbox, "bob@example.com")
    staff = admin(app, runner, outbox)
    team = staff.get("/staff/team").get_data(as_text=True)
    assert "Emergency: sign out every account" in team
    assert "Emergency" not in team.split("<title>")[1].split("</title>")[0]  # in the page, not its title
    no_reason = submit(staff, "/staff/team", {"reason": ""}, action="/staff/sessions/end-all")
    assert no_reason.status_code == 303 and not signed_out(alice)
    asked = submit(staff, "/staff/team", {"reason": "session store leaked"}, action="/staff/sessions/end-all")
    assert asked.status_code == 200 and "Sign out every account now?" in asked.get_data(as_text=True)
    assert not signed_out(alice)  # nothing happens before the confirmation
    done = submit(staff, "/staff/team", {"reason": "session store leaked", "confirmed": "yes"},
                  action="/staff/sessions/end-all", follow_redirects=True)
    assert "sessions ended; everyone signs in again. Yours stays." in done.get_data(as_text=True)
    assert signed_out(alice) and signed_out(bob)
    assert staff.get("/staff/team").status_code == 200  # the admin's own session stays
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "staff:sessions:end-all"))
        assert entry.reason == "session store leaked" and entry.target.startswith("every session (")
    assert AuthActions(alice, outbox).login("alice@example.com").status_code in (200, 302, 303)
    assert not signed_out(alice)  # signing in again works


def test_only_admins_may_sign_everyone_out(app, runner, outbox):
    customer = signed_in(app, outbox, "alice@example.com")
    staff = admin(app, runner, outbox, roles=("support",))
    response = submit(staff, "/staff/team", {"reason": "x", "confirmed": "yes"}, action="/staff/sessions/end-all")
    assert response.status_code == 403 and not signed_out(customer)
