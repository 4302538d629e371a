"""Staff console: the team and its roles (admin)."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.auth import provisioning
from app.auth import services as auth_services
from app.auth.models import STAFF_ROLES, User
from app.extensions import db
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import EndEverySessionForm, TeamForm, first_error, resubmitted
from app.timeutil import utcnow


@bp.route("/team", methods=["GET", "POST"])
@staff("admin")
def manage_team():
    """Invite staff, change their roles, remove them (never the last admin)."""
    if request.method == "POST":
        form = TeamForm()
        action, now, ip = form.action.data, utcnow(), request.remote_addr
        roles = form.roles.data or []
        try:
            if action == "invite":
                email = form.email.data
                if not roles or not email:
                    raise ValueError(_("Give an e-mail address and at least one role."))
                staff_services.invite(email, roles, current_user, current_app.config, now, ip)
            elif action in ("roles", "remove"):
                member = db.session.get(User, form.user_id.data or 0)
                if member is None:
                    abort(404)
                if action == "remove" and not form.is_confirmed:
                    return _confirm_removal(member, form)
                staff_services.set_roles(member, [] if action == "remove" else roles, current_user, now, ip)
            else:
                abort(400)
        except (staff_services.LastAdmin, auth_services.InvalidEmail, provisioning.UnknownRole, ValueError) as exc:
            flash(str(exc), "error")
            return render_template("staff/team.html", members=staff_services.team(), roles=STAFF_ROLES), 400
        flash(_team_done(action, form.email.data), "success")
        return redirect(url_for("staff.manage_team"), code=303)
    return render_template("staff/team.html", members=staff_services.team(), roles=STAFF_ROLES)


def _team_done(action: str, email: str) -> str:
    if action == "invite":
        return _("An invitation is on its way to %(email)s.", email=email)
    if action == "remove":
        return _("They are no longer staff: the console is closed to them from their next page.")
    return _("Their roles are saved; they apply from their next page.")


def _confirm_removal(member, form):
    return render_template(
        "staff/confirm.html", title=_("Remove %(email)s from the staff?", email=member.email),
        consequence=_("Every role is taken away: the console is closed to them from their next page. Their "
                      "customer account stays."), button=_("Remove from staff"),
        action_url=url_for("staff.manage_team"), cancel_url=url_for("staff.manage_team"), fields=resubmitted(form))


@bp.post("/sessions/end-all")
@staff("admin")
def end_every_session():
    """In an emergency (a leaked session store, a compromised release): sign out every account at
    once, but the acting admin, with a reason on record, after a confirmation step."""
    form = EndEverySessionForm()
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(url_for("staff.manage_team"), code=303)
    reason = form.reason.data
    if not form.is_confirmed:
        return render_template(
            "staff/confirm.html", title=_("Sign out every account now?"),
            consequence=_("Every customer and staff member is signed out at once, on every device, and must sign "
                          "in again with their password (and second factor). Only your own session stays. API keys "
                          "are not affected."), button=_("Sign out everyone"),
            action_url=url_for("staff.end_every_session"), cancel_url=url_for("staff.manage_team"),
            fields=resubmitted(form))
    current = g.get("user_session")
    count = staff_services.end_every_session(current_user, reason, utcnow(), current.id if current else None,
                                             request.remote_addr)
    flash(ngettext("%(num)s session ended; everyone signs in again. Yours stays.",
                   "%(num)s sessions ended; everyone signs in again. Yours stays.", count), "success")
    return redirect(url_for("staff.manage_team"), code=303)
