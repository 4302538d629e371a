"""Staff console: the rights-request queue and one request's page (privacy and admin roles)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.security import staff
from app.staff import bp
from app.timeutil import utcnow

# --- rights requests (privacy and admin roles) ---------------------------------------------------------

REQUEST_FILTERS = ("overdue", "week", "mine", "unassigned")


@bp.get("/requests")
@staff("privacy", "admin")
def list_requests():
    """The rights-request queue, soonest due first; filters for overdue, this week, mine, unassigned."""
    from app.rights import requests as rights

    chosen = request.args.get("filter") if request.args.get("filter") in REQUEST_FILTERS else None
    today = utcnow().date()
    return render_template("staff/requests.html", rows=rights.queue(chosen, current_user.id, today),
                           chosen=chosen, filters=REQUEST_FILTERS, today=today)


@bp.route("/requests/<reference>", methods=["GET", "POST"])
@staff("privacy", "admin")
def show_request(reference: str):
    """One request: assign, note, start, extend, hold or release, complete, reject, flag a minor."""
    from app.auth.models import User
    from app.rights import requests as rights
    from app.rights.forms_requests import StaffRequestForm
    from app.rights.models import RightsRequest

    req = db.session.scalar(select(RightsRequest).where(RightsRequest.reference == reference))
    if req is None or req.status == "unconfirmed":
        abort(404)
    owner = db.session.get(User, req.user_id) if req.user_id else None
    form = StaffRequestForm()
    members = _privacy_staff()
    form.assignee.choices = [(0, _("nobody"))] + [(u.id, u.email) for u in members]
    now, ip = utcnow(), request.remote_addr
    if request.method == "POST" and form.validate_on_submit():
        action, note = request.form.get("action", ""), (form.note.data or "").strip()
        try:
            if action == "assign":
                rights.assign(req, current_user, form.assignee.data, now, ip)
            elif action == "note" and note:
                rights.add_note(req, current_user, note, now, ip)
            elif action == "start":
                rights.start(req, current_user, now, ip)
            elif action == "extend":
                rights.extend(req, current_user, form.months.data or 0, note, now.date(), now, ip)
            elif action == "complete":
                if req.type == "erasure" and request.form.get("confirmed") != "yes":
                    # A destructive action asks once more, naming what it erases (no JavaScript needed).
                    return _render_request(req, owner, form, 200, confirm="complete")
                rights.complete(req, current_user, note, current_app.config, now, ip)
            elif action == "reject":
                rights.reject(req, current_user, note, now, ip)
            elif action == "hold" and owner is not None:
                if not current_user.has_role("privacy"):
                    abort(403)
                rights.place_hold(owner, current_user, note, form.hold_until.data or (now.date() + timedelta(days=90)),
                                  now, ip)
            elif action == "release" and owner is not None:
                hold = rights.active_hold(owner.id, now.date())
                if hold is None:
                    raise rights.TransitionRefused("There is no active hold.")
                rights.release_hold(hold, current_user, now, ip)
            elif action == "minor" and owner is not None:
                if request.form.get("confirmed") != "yes":
                    return _render_request(req, owner, form, 200, confirm="minor")
                rights.flag_minor(owner, current_user, now, ip)
            else:
                raise rights.TransitionRefused("Choose an action (a note needs text).")
        except rights.TransitionRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _render_request(req, owner, form, 400)
        db.session.commit()
        flash(_("Done."), "success")
        return redirect(url_for("staff.show_request", reference=reference), code=303)
    if request.method == "GET":
        rights._audit(current_user, req, "view", now, ip=ip)
        db.session.commit()
        form.assignee.data = req.assignee_id or 0
    return _render_request(req, owner, form, 400 if form.errors else 200)


def _privacy_staff():
    from app.auth.models import User, UserRole

    return db.session.scalars(select(User).join(UserRole).where(UserRole.role.in_(("privacy", "admin")))
                              .distinct().order_by(User.email)).all()


def _render_request(req, owner, form, status, confirm: str | None = None):
    from app.rights import inventory
    from app.rights import requests as rights

    today = utcnow().date()
    open_request = req.status not in ("completed", "rejected", "expired")
    holdings = inventory.holdings(req.email, current_app.config) \
        if open_request and req.type in ("erasure", "access") else None
    return render_template("staff/request.html", req=req, owner=owner, form=form, today=today,
                           hold=rights.active_hold(owner.id, today) if owner else None, holdings=holdings,
                           confirm=confirm), status
