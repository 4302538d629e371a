"""Bad input to the staff console's forms: a clear message and a 4xx (or the page again), never
a 500, and nothing done."""

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db as _db
from app.keys.models import ApiKey
from tests.fixtures.factories import make_customer
from tests.fixtures.visitor import submit
from tests.staff.test_console import open_record, staff_client


def _untouched(app, user_id) -> bool:
    """The account is not suspended and its key not revoked."""
    with app.app_context():
        user = _db.session.get(User, user_id)
        key = _db.session.scalar(select(ApiKey).where(ApiKey.created_by_id == user_id))
        return user.suspended_at is None and key.revoked_at is None


def test_an_account_action_without_a_reason_or_with_a_bad_key_id_is_refused_plainly(app, runner, outbox):
    user_id, _secret = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    open_record(staff, user_id, "ticket SUP-1")
    page = f"/staff/users/{user_id}"
    no_reason = submit(staff, page, {"action": "suspend", "reason": "   "}, action=f"{page}/action",
                       follow_redirects=True)
    assert no_reason.status_code == 200 and "Give a reason: it goes into the audit log." in no_reason.get_data(
        as_text=True)
    for key_id in ("abc", "9" * 40, "-1", "1e9"):
        refused = submit(staff, page, {"action": "revoke-key", "reason": "leaked", "key_id": key_id,
                                       "confirmed": "yes"}, action=f"{page}/action")
        assert refused.status_code == 404
    unknown = submit(staff, page, {"action": "delete-everything", "reason": "x"}, action=f"{page}/action")
    assert unknown.status_code == 400
    assert _untouched(app, user_id)


def test_opening_a_record_without_a_known_category_asks_again_with_what_was_typed(app, runner, outbox):
    user_id, _secret = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox)
    response = submit(staff, f"/staff/users/{user_id}", {"reason": "ticket SUP-1", "category": "curiosity",
                                                          "reference": "  SUP-1  "})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choose a category and give a reason." in text
    assert 'value="ticket SUP-1"' in text and 'value="SUP-1"' in text
    assert "cust@example.com" not in text  # the record stays closed


def test_the_confirmation_step_posts_the_same_fields_again(app, runner, outbox):
    user_id, _secret = make_customer(app, "cust@example.com").as_user()
    staff = staff_client(app, runner, outbox, roles=("admin",))
    open_record(staff, user_id, "ticket SUP-1")
    page = f"/staff/users/{user_id}"
    asked = submit(staff, page, {"action": "suspend", "reason": "fraud <b>check</b>"}, action=f"{page}/action")
    assert asked.status_code == 200 and "Suspend this account?" in asked.get_data(as_text=True)
    text = asked.get_data(as_text=True).split(f'action="{page}/action"')[1].split("</form>")[0]
    assert '<input type="hidden" name="action" value="suspend">' in text
    assert '<input type="hidden" name="reason" value="fraud &lt;b&gt;check&lt;/b&gt;">' in text
    assert text.count('name="csrf_token"') == 1 and text.count('name="confirmed"') == 1


def test_the_team_form_refuses_bad_input_with_a_4xx(app, runner, outbox):
    staff = staff_client(app, runner, outbox, roles=("admin",))
    assert submit(staff, "/staff/team", {"action": "roles", "user_id": "x" * 50, "roles": "support"}).status_code \
        == 404
    no_roles = submit(staff, "/staff/team", {"action": "invite", "email": "new@example.com"})
    assert no_roles.status_code == 400 and "Give an e-mail address and at least one role." in no_roles.get_data(
        as_text=True)
    assert submit(staff, "/staff/team", {"action": "shout"}).status_code == 400
    no_reason = submit(staff, "/staff/team", {"reason": " "}, action="/staff/sessions/end-all",
                       follow_redirects=True)
    assert "Give a reason: it goes into the audit log." in no_reason.get_data(as_text=True)
