"""Staff console: customer search, the audited customer record and its account actions."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.audit import access
from app.audit.models import AccessCategory
from app.auth import services as auth_services
from app.auth.models import User
from app.billing import services as billing
from app.consent import services as consent_services
from app.contact import services as contact_services
from app.extensions import db
from app.keys import services as key_services
from app.organisations import services as organisations
from app.rights import inventory
from app.rights import workflow as rights
from app.security import staff
from app.staff import account_actions, grants
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import AccountActionForm, OpenRecordForm, first_error, resubmitted
from app.timeutil import utcnow
from app.usage import services as usage_services

# --- customers (all staff roles; actions by role) ---------------------------------------------------------


@bp.get("/users")
@staff()
def find_users():
    """Search customers by e-mail, an order, support or request reference, or a key prefix. For
    an address, privacy staff also see everything held about it, account or not (audited)."""
    query = (request.args.get("q") or "").strip()[:254]
    holdings = None
    if "@" in query and current_user.has_role("privacy", "admin"):
        holdings = inventory.holdings(query, current_app.config)
        staff_services.record_person_lookup(current_user, utcnow(), request.remote_addr)
    users = staff_services.find_customers(query)
    staff_services.record_customer_search(current_user, query, users, current_app.config, utcnow(),
                                          request.remote_addr)
    return render_template("staff/users.html", query=query, users=users, holdings=holdings)




@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@staff()
def show_user(user_id: int):
    """A customer's record. Opening it needs a reason, posted (never in the URL, so never in
    history or logs) and written to the audit log; every display of the record is audited."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if request.method == "POST":
        form = OpenRecordForm()
        if not form.validate_on_submit():
            return render_template("staff/user_reason.html", user_id=user_id, categories=access.CATEGORIES,
                                   form=form.data, missing=True), 400
        entry = staff_services.open_user_record(current_user, user, AccessCategory(form.category.data),
                                                form.reference.data, form.reason.data, current_app.config, utcnow(),
                                                request.remote_addr)
        grants.remember(str(user_id), entry)
        return redirect(url_for("staff.show_user", user_id=user_id), code=303)
    opened = grants.opened(str(user_id))
    if opened is None:
        return render_template("staff/user_reason.html", user_id=user_id, categories=access.CATEGORIES, form={})
    staff_services.record_user_view(current_user, user, opened.reason, utcnow(), request.remote_addr)
    return render_template("staff/user.html", user=user, reason=opened.reason, **_customer_record(user))


def _customer_record(user) -> dict:
    today = utcnow().date()
    show_ips = current_user.has_role("admin", "privacy")
    personal = organisations.personal_organisation(user.id)
    own = personal.id if personal is not None else -1
    return {
        "personal": personal, "keys": key_services.all_keys(personal) if personal else [], "now": utcnow(),
        "ledger": billing.ledger(own, limit=50), "month": usage_services.month_totals(own, today),
        "orders": billing.orders_of(own),
        "threads": contact_services.threads_of(user.id), "requests": rights.requests_of(user.id),
        "consents": consent_services.history(None, user.id),
        "sessions": auth_services.active_sessions(user) if show_ips else None,
        "hold": rights.active_hold(user.id, today),
    }


# Destructive account actions ask once more, on a page of their own (no JavaScript needed).
CONFIRM_USER_ACTIONS = {
    "suspend": (_l("Suspend this account?"), _l("The customer can no longer sign in and every API key stops until "
                                                 "the account is unsuspended. The customer is told by e-mail."),
                _l("Suspend")),
    "end-sessions": (_l("End every session?"), _l("The customer is signed out on every device."), _l("End sessions")),
    "revoke-key": (_l("Revoke this API key?"), _l("Calls with this key fail from the next request; this cannot be "
                                                  "undone."), _l("Revoke")),
    "minor": (_l("Flag this account as a minor’s?"), _l("The account stops at once (no sign-in, no API key) and an "
                                                         "erasure due in 7 days is opened."), _l("Flag as a minor’s")),
}


# What each action did, as the flash after it says (the customer's address fills %(email)s).
DONE_USER_ACTIONS = {
    "suspend": _l("%(email)s is suspended: no sign-in and no API call until unsuspended. They were e-mailed."),
    "unsuspend": _l("%(email)s is active again (their keys work again). They were e-mailed."),
    "end-sessions": _l("Every session of %(email)s is ended: they are signed out on every device. They were e-mailed."),
    "revoke-key": _l("The key of %(email)s is revoked: its next call gets 401. They were e-mailed."),
    "resend-verification": _l("A new confirmation link is on its way to %(email)s."),
    "minor": _l("%(email)s is flagged as a minor’s account: it is stopped and an erasure is due in 7 days."),
    "hold": _l("A legal hold is on the data of %(email)s: nothing of it is erased until the hold ends."),
}


@bp.post("/users/<int:user_id>/action")
@staff()
def act_on_user(user_id: int):
    """Account actions; each needs the role it belongs to, is audited, and tells the customer."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = AccountActionForm()
    action, reason = form.action.data, form.reason.data
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(url_for("staff.show_user", user_id=user_id), code=303)
    try:
        account_actions.check(action, current_user)
        if action in CONFIRM_USER_ACTIONS and not form.is_confirmed:
            title, consequence, button = CONFIRM_USER_ACTIONS[action]
            return render_template("staff/confirm.html", title=title, consequence=consequence, button=button,
                                   action_url=url_for("staff.act_on_user", user_id=user_id), fields=resubmitted(form),
                                   cancel_url=url_for("staff.show_user", user_id=user_id))
        account_actions.apply(user, current_user, action, reason, form.key_id.data,
                              current_app.config, utcnow(), request.remote_addr)
    except account_actions.UnknownAction:
        abort(400)
    except account_actions.ActionForbidden:
        abort(403)
    except account_actions.KeyNotFound:
        abort(404)
    flash(str(DONE_USER_ACTIONS[action]) % {"email": user.email}, "success")
    return redirect(url_for("staff.show_user", user_id=user_id), code=303)
