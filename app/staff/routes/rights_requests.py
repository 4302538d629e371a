"""Staff console: the rights-request queue and one request's page (privacy and admin roles)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth.models import User
from app.extensions import db
from app.labels import label
from app.rights import inventory, staff_actions
from app.rights import workflow as rights
from app.rights.forms import StaffRequestForm
from app.rights.models import CLOSED_STATUSES, RequestStatus, RequestType
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import StaffActionForm
from app.timeutil import utcnow

# --- rights requests (privacy and admin roles) ---------------------------------------------------------

REQUEST_FILTERS = ("overdue", "week", "mine", "unassigned")


DONE_REQUEST_ACTIONS = {  # what the flash after each action says
    "assign": _l("%(reference)s is saved (status: %(status)s)."),
    "note": _l("Your internal note is added to %(reference)s; the requester does not see it."),
    "start": _l("%(reference)s is now %(status)s."),
    "extend": _l("The deadline of %(reference)s is extended; the requester was e-mailed the new date and why."),
    "complete": _l("%(reference)s is completed; the requester was e-mailed."),
    "reject": _l("%(reference)s is rejected; the requester was e-mailed the reason."),
    "hold": _l("A legal hold is placed on the requester’s account: nothing of it is erased until it ends."),
    "release": _l("The legal hold is released."),
    "minor": _l("The account is flagged as a minor’s: it is stopped and an erasure is due in 7 days."),
}


@bp.get("/requests")
@staff("privacy", "admin")
def list_requests():
    """The rights-request queue, soonest due first; filters for overdue, this week, mine, unassigned."""
    chosen = request.args.get("filter") if request.args.get("filter") in REQUEST_FILTERS else None
    today = utcnow().date()
    return render_template("staff/requests.html", rows=rights.queue(chosen, current_user.id, today),
                           chosen=chosen, filters=REQUEST_FILTERS, today=today)


@bp.route("/requests/<reference>", methods=["GET", "POST"])
@staff("privacy", "admin")
def show_request(reference: str):
    """One request: assign, note, start, extend, hold or release, complete, reject, flag a minor."""
    req = rights.find_request(reference)
    if req is None or req.status == RequestStatus.UNCONFIRMED:
        abort(404)
    owner = db.session.get(User, req.user_id) if req.user_id else None
    form = StaffRequestForm()
    members = staff_services.members_with_roles("privacy", "admin")
    form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    now = utcnow()
    if request.method == "GET":
        staff_actions.record_view(current_user, req, current_app.config, now, request.remote_addr)
        form.assignee.data = req.assignee_id or 0
    if request.method != "POST" or not form.validate_on_submit():
        return _render_request(req, owner, form, 400 if form.errors else 200)
    posted = StaffActionForm()
    action = posted.action.data
    if staff_actions.needs_confirmation(req, action) and not posted.is_confirmed:
        return _render_request(req, owner, form, 200, confirm=action)
    try:
        staff_actions.apply(req, owner, current_user, action, note=(form.note.data or "").strip(),
                            assignee=form.assignee.data, months=form.months.data, hold_until=form.hold_until.data,
                            config=current_app.config, now=now, ip=request.remote_addr)
    except staff_actions.ActionForbidden:
        abort(403)
    except rights.TransitionRefused as exc:
        flash(str(exc), "error")
        return _render_request(req, owner, form, 400)
    flash(str(DONE_REQUEST_ACTIONS.get(action, DONE_REQUEST_ACTIONS["assign"])) % {
        "reference": reference, "status": label("request", req.status)}, "success")
    return redirect(url_for("staff.show_request", reference=reference), code=303)




def _render_request(req, owner, form, status, confirm: str | None = None):
    today = utcnow().date()
    open_request = req.status not in CLOSED_STATUSES
    holdings = inventory.holdings(req.email, current_app.config) \
        if open_request and req.type in (RequestType.ERASURE, RequestType.ACCESS) else None
    return render_template("staff/request.html", req=req, owner=owner, form=form, today=today,
                           hold=rights.active_hold(owner.id, today) if owner else None, holdings=holdings,
                           confirm=confirm), status
