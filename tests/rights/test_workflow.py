"""Rights requests: filing and confirming, deadlines, the staff workflow, holds, minors, the digest."""

import re
from datetime import date, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.extensions import db as _db
from app.rights import workflow as rights
from app.rights.models import LegalHold, RightsRequest
from app.timeutil import utcnow
from tests.fixtures.visitor import AuthActions, submit, turn_on_2fa
from tests.staff.test_routes import PASSWORD, make_staff


@pytest.mark.parametrize(("received", "due"), [
    (date(2025, 1, 31), date(2025, 2, 28)), (date(2024, 1, 31), date(2024, 2, 29)),
    (date(2025, 3, 15), date(2025, 4, 15)), (date(2025, 12, 31), date(2026, 1, 31)),
])
def test_due_one_calendar_month_later_clamped_to_the_months_end(received, due):
    assert rights.due_date(received) == due


def test_minors_erasure_requests_are_due_in_7_days():
    assert rights.due_date(date(2025, 1, 31), minor=True) == date(2025, 2, 7)


def file(client, email="ann@example.com", kind="access", **kwargs):
    return submit(client, "/privacy/request", {"type": kind, "email": email, "details": "Please send my data."},
                  **kwargs)


def code_from(outbox, email):
    message = next(m for m in reversed(outbox) if m["To"] == email and "code" in m["Subject"])
    return re.search(r"\b(\d{6})\b", message["Subject"]).group(1)


def confirm(client, response, code):
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    return submit(client, "/privacy/request", {"token": token, "code": code}, action="/privacy/request/confirm")


def test_signed_out_request_is_confirmed_by_code_then_receipted(app, client, outbox):
    filed = file(client)
    assert filed.status_code == 200
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert req.status == "unconfirmed" and req.code_hash and "Please send" not in str(req.code_hash)
    done = confirm(client, filed, code_from(outbox, "ann@example.com"))
    assert done.status_code == 200 and "Request received" in done.get_data(as_text=True)
    receipt = outbox[-1]
    assert "received your privacy request" in receipt["Subject"]
    body = receipt.get_body(("plain",)).get_content()
    assert "What happens next" in body and format_date(rights.due_date(utcnow().date()), "long", locale="en") in body
    status_link = re.search(r"https?://\S+/privacy/request/status/\S+", body).group()
    assert "received" in client.get(status_link[status_link.index("/privacy"):]).get_data(as_text=True)


def test_the_status_link_expires(make_app, outbox):
    app = make_app(RIGHTS_STATUS_LINK_DAYS=0)  # a link older than 0 days, i.e. any that has aged a second
    client = app.test_client()
    filed = file(client)
    confirm(client, filed, code_from(outbox, "ann@example.com"))
    body = outbox[-1].get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+(/privacy/request/status/\S+)", body).group(1)
    import time

    time.sleep(1.1)
    assert client.get(link).status_code == 404


def test_same_page_whether_or_not_the_address_has_an_account(app, client, outbox):
    AuthActions(app.test_client(), outbox).register("known@example.com")
    known = file(client, "known@example.com")
    unknown = file(client, "unknown@example.com")
    strip = lambda r: re.sub(r'(value|nonce)="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert strip(known) == strip(unknown)


def test_code_expires_after_10_minutes_and_allows_5_attempts(app, client, outbox):
    filed = file(client)
    code = code_from(outbox, "ann@example.com")
    for _ in range(5):
        assert confirm(client, filed, "000000" if code != "000000" else "111111").status_code == 400
    assert confirm(client, filed, code).status_code == 400  # the sixth try, even right, is refused
    second = file(client, "bob@example.com")
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest).where(RightsRequest.email == "bob@example.com"))
        req.code_expires_at = utcnow() - timedelta(seconds=1)
        _db.session.commit()
    assert confirm(client, second, code_from(outbox, "bob@example.com")).status_code == 400


def test_throttled_per_address(make_app, outbox):
    app = make_app(RIGHTS_RATE_LIMIT_ADDRESS="2 per hour")
    client = app.test_client()
    file(client)
    file(client)
    assert file(client).status_code == 429


def test_details_are_encrypted_at_rest(app, client, outbox):
    submit(client, "/privacy/request", {"type": "other", "email": "ann@example.com",
                                        "details": "A distinctive sentence about Zorblax."})
    with app.app_context():
        raw = _db.session.execute(_db.text("SELECT details FROM rights_requests")).scalar()
        assert "Zorblax" not in raw


def test_signed_in_requests_are_confirmed_by_recent_password(app, client, outbox):
    auth = AuthActions(client, outbox)
    auth.register()
    auth.login()
    response = file(client, kind="erasure")
    assert "Request received" in response.get_data(as_text=True)
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "received" in page and "PRV-" in page


def _staff(app, runner, outbox, roles=("privacy",)):
    make_staff(runner, roles=roles)
    client = app.test_client()
    AuthActions(client, outbox).login("staff@example.com", PASSWORD)
    turn_on_2fa(client)
    return client


def _confirmed(app, client, outbox, email="ann@example.com", kind="access"):
    confirm(client, file(client, email, kind), code_from(outbox, email))
    with app.app_context():
        return _db.session.scalar(select(RightsRequest.reference).where(RightsRequest.email == email))


def act(staff, reference, action, **fields):
    """A staff action; destructive ones are confirmed (see the confirmation test below)."""
    fields.setdefault("confirmed", "yes")
    return submit(staff, f"/staff/requests/{reference}", {"action": action, **fields})


def test_staff_assign_extend_once_and_complete_with_emails_and_audit(app, client, runner, outbox):
    reference = _confirmed(app, client, outbox)
    staff = _staff(app, runner, outbox)
    assert reference in staff.get("/staff/requests?filter=unassigned").get_data(as_text=True)
    with app.app_context():
        staff_id = _db.session.scalar(select(User.id).where(User.email == "staff@example.com"))
    act(staff, reference, "assign", assignee=str(staff_id))
    assert reference in staff.get("/staff/requests?filter=mine").get_data(as_text=True)
    outbox.clear()
    assert act(staff, reference, "extend", months="2", note="Complex request").status_code == 303
    assert "more time" in outbox[-1].get_body(("plain",)).get_content()
    second = act(staff, reference, "extend", months="1", note="Again")
    assert second.status_code == 400 and "second extension" in second.get_data(as_text=True)
    act(staff, reference, "complete", note="Sent the data.")
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert req.status == "completed" and req.extended
        actions = set(_db.session.scalars(select(AuditEntry.action)))
    assert {"rights:view", "rights:assign", "rights:extend", "rights:complete"} <= actions
    assert "completed" in outbox[-1].get_body(("plain",)).get_content()


def test_extension_only_before_the_due_date(app, client, runner, outbox):
    reference = _confirmed(app, client, outbox)
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        req.due_on = utcnow().date() - timedelta(days=1)
        _db.session.commit()
    staff = _staff(app, runner, outbox)
    assert reference in staff.get("/staff/requests?filter=overdue").get_data(as_text=True)
    assert act(staff, reference, "extend", months="1", note="late").status_code == 400


def test_rejection_needs_a_reason_and_tells_of_the_right_to_complain(app, client, runner, outbox):
    reference = _confirmed(app, client, outbox)
    staff = _staff(app, runner, outbox)
    assert act(staff, reference, "reject").status_code == 400
    act(staff, reference, "reject", note="We hold no data for this address.")
    body = outbox[-1].get_body(("plain",)).get_content()
    assert "We hold no data" in body and "supervisory authority" in body and "judicial remedy" in body
    status = re.search(r"https?://\S+(/privacy/request/status/\S+)", body).group(1)
    page = client.get(status).get_data(as_text=True)
    assert "A copy of my data (access)" in page and "rejected" in page
    assert "We hold no data for this address." in page and "supervisory authority" in page
    assert "We answer by" not in page
    staff_page = staff.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert 'value="complete"' not in staff_page and "days left" not in staff_page
    assert "nothing is left to do" in staff_page


def test_the_status_page_says_what_the_request_is_and_what_happens_next(app, client, outbox):
    filed = file(client)
    confirm(client, filed, code_from(outbox, "ann@example.com"))
    body = outbox[-1].get_body(("plain",)).get_content()
    page = client.get(re.search(r"https?://\S+(/privacy/request/status/\S+)", body).group(1)).get_data(as_text=True)
    assert "A copy of my data (access)" in page and "What happens next" in page and "We answer by" in page


def test_completing_an_erasure_erases_the_account(app, client, runner, outbox):
    AuthActions(app.test_client(), outbox).register("gone@example.com")
    reference = _confirmed(app, client, outbox, "gone@example.com", "erasure")
    staff = _staff(app, runner, outbox)
    act(staff, reference, "complete")
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email == "gone@example.com")) is None


def test_a_legal_hold_blocks_erasure_and_the_purge_until_released(app, client, runner, outbox):
    AuthActions(app.test_client(), outbox).register("held@example.com")
    reference = _confirmed(app, client, outbox, "held@example.com", "erasure")
    staff = _staff(app, runner, outbox)
    act(staff, reference, "hold", note="Court order 12/2025", hold_until=(utcnow().date() + timedelta(days=30))
        .isoformat())
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status)) == "on_hold"
    assert act(staff, reference, "complete").status_code == 400
    with app.app_context():
        user = _db.session.scalar(select(User).where(User.email == "held@example.com"))
        user.closed_at = utcnow() - timedelta(days=60)
        _db.session.commit()
    assert "erased 0" in runner.invoke(args=["privacy", "purge"]).output
    act(staff, reference, "release")
    with app.app_context():
        assert _db.session.scalar(select(LegalHold.released_at)) is not None
    act(staff, reference, "complete")
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email == "held@example.com")) is None


def test_only_privacy_staff_place_holds(app, client, runner, outbox):
    AuthActions(app.test_client(), outbox).register("x@example.com")
    reference = _confirmed(app, client, outbox, "x@example.com")
    staff = _staff(app, runner, outbox, roles=("admin",))
    assert act(staff, reference, "hold", note="no").status_code == 403


def test_flagging_a_minor_opens_a_7_day_erasure_that_deletes(app, client, runner, outbox):
    AuthActions(app.test_client(), outbox).register("teen@example.com")
    reference = _confirmed(app, client, outbox, "teen@example.com")
    staff = _staff(app, runner, outbox)
    act(staff, reference, "minor")
    with app.app_context():
        minor = _db.session.scalar(select(RightsRequest).where(RightsRequest.minor.is_(True)))
        assert minor.type == "erasure" and minor.due_on == utcnow().date() + timedelta(days=7)
        minor_ref = minor.reference
    act(staff, minor_ref, "complete")
    with app.app_context():
        assert _db.session.scalar(select(User).where(User.email.like("%teen%"))) is None
        assert _db.session.scalar(select(User).where(User.email.like("erased-%"))) is None  # deleted, not anonymised


def test_other_roles_cannot_see_requests(app, runner, outbox):
    staff = _staff(app, runner, outbox, roles=("support",))
    assert staff.get("/staff/requests").status_code == 403


def test_digest_goes_once_a_day(app, client, runner, outbox):
    _confirmed(app, client, outbox)
    _confirmed(app, client, outbox, "later@example.com")  # due in a month: not listed
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest).where(RightsRequest.email == "ann@example.com"))
        req.due_on = utcnow().date() + timedelta(days=3)
        _db.session.commit()
    _staff(app, runner, outbox)
    outbox.clear()
    first = runner.invoke(args=["rights", "digest"])
    assert "digest sent: 1 requests" in first.output
    assert [m["To"] for m in outbox] == ["staff@example.com"]
    second = runner.invoke(args=["rights", "digest"])
    assert "already sent today" in second.output
    assert len(outbox) == 1


def test_unconfirmed_requests_expire_after_30_days(app, client, outbox):
    from app import retention

    file(client)
    with app.app_context():
        assert retention.purge(app.config, utcnow() + timedelta(days=31))["rights_requests.unconfirmed"] == 1


def test_access_without_an_account_sends_what_is_held_for_the_address(app, client, runner, outbox):
    submit(client, "/contact", {"name": "Ann", "email": "ann@example.com", "subject": "sales",
                                "message": "A question about the growth pack, please."})
    reference = _confirmed(app, client, outbox)
    staff = _staff(app, runner, outbox)
    act(staff, reference, "complete")
    body = outbox[-1].get_body(("plain",)).get_content()
    assert "SUP-" in body and "growth pack" in body


def test_a_parent_or_guardian_files_for_a_child_and_it_is_handled_as_a_minors(app, client, outbox):
    filed = submit(client, "/privacy/request", {"type": "erasure", "email": "parent@example.com",
                                                "details": "My son (kid@example.com) opened an account.",
                                                "guardian": "y"})
    confirm(client, filed, code_from(outbox, "parent@example.com"))
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert req.minor is True and req.due_on == utcnow().date() + timedelta(days=7)
        assert req.details.startswith("[Parent or guardian request")
    assert "I am a parent or guardian" in client.get("/privacy/request").get_data(as_text=True)


def test_a_flagged_minor_cannot_sign_in_nor_use_keys_and_is_told_why(app, runner, outbox):
    from tests.fixtures.factories import make_customer
    from tests.fixtures.visitor import bearer
    from tests.staff.test_console import open_record, staff_client

    user_id, secret = make_customer(app, "kid@example.com").as_user()
    child = app.test_client()
    AuthActions(child, outbox).login("kid@example.com")
    assert child.get("/account").status_code == 200
    staff = staff_client(app, runner, outbox, roles=("privacy",))
    open_record(staff, user_id, "report from a parent")
    submit(staff, f"/staff/users/{user_id}", {"action": "minor", "reason": "parent wrote in", "confirmed": "yes"},
           action=f"/staff/users/{user_id}/action")
    assert child.get("/account").status_code == 302  # the session ended
    again = AuthActions(app.test_client(), outbox).login("kid@example.com")
    assert again.status_code == 403 and "belongs to someone under 16" in again.get_data(as_text=True)
    assert "parent or guardian" in again.get_data(as_text=True)
    assert app.test_client().get("/api/v1/users/jack", headers=bearer(secret)).status_code == 401


# --- erasure of a person, not only of an account -------------------------------------------------------

def test_a_visitor_without_an_account_is_erased_everywhere_after_staff_confirm(app, client, runner, outbox, tmp_path):
    from tests.sweep import traces

    visitor = "walt.visitor@example.net"
    submit(client, "/contact", {"name": "Walt Visitor", "email": visitor, "subject": "sales",
                                "message": "Please tell me about prices for research use."}, follow_redirects=True)
    reference = _confirmed(app, client, outbox, visitor, "erasure")
    staff = _staff(app, runner, outbox, roles=("privacy", "support"))
    with app.app_context():
        from app.contact.models import ContactThread

        thread = _db.session.scalar(select(ContactThread)).reference
    assert staff.get(f"/staff/messages/{thread}").status_code == 200  # staff read the thread (audited)
    with app.app_context():  # an entry written before audit targets stopped naming the address
        from app.audit import services as audit

        audit.record(None, "contact:thread:view", utcnow(), target=f"{thread} <{visitor.upper()}>")
        _db.session.commit()
    page = staff.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "What we hold for this address" in page and thread in page and "Support conversations" in page
    asked = submit(staff, f"/staff/requests/{reference}", {"action": "complete"})
    assert asked.status_code == 200 and "Erase everything listed above?" in asked.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(RightsRequest.status)) != "completed"  # nothing erased yet
    outbox.clear()
    done = submit(staff, f"/staff/requests/{reference}", {"action": "complete", "confirmed": "yes"})
    assert done.status_code == 303
    [final] = outbox
    assert final["To"] == visitor and "Deleted: support conversations (1)." in final.get_body(("plain",)).get_content()
    assert traces(app, [visitor, "Walt Visitor", "prices for research"]) == []
    with app.app_context():
        req = _db.session.scalar(select(RightsRequest))
        assert (req.reference, req.status, req.type) == (reference, "completed", "erasure")


def test_an_account_erased_by_request_leaves_no_trace_of_the_address(app, client, runner, outbox):
    from tests.sweep import traces

    AuthActions(app.test_client(), outbox).register("gone2@example.com", nickname="Gonzo")
    reference = _confirmed(app, client, outbox, "gone2@example.com", "erasure")
    staff = _staff(app, runner, outbox)
    act(staff, reference, "note", note="checked identity")
    act(staff, reference, "complete")
    assert traces(app, ["gone2@example.com", "Gonzo"]) == []


def test_no_request_type_is_picked_for_the_visitor(client):
    page = client.get("/privacy/request").get_data(as_text=True)
    assert re.search(r'<option value="">Choose a request…</option>', page)
    assert "Choose what you would like." in file(client, kind="").get_data(as_text=True)
