"""The staff console's blueprint and its guard: every view in app/staff/routes/ is behind it."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from app.errors.services import error_texts
from app.staff import navigation
from app.staff.services import waiting_counts
from app.timeutil import utcnow

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.before_request
def require_staff():
    """Anonymous: sign in. Customers: 403. Staff without 2FA: a page saying how to turn it on."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_staff:
        title, explanation = error_texts(403)
        return render_template("errors/error.html", status=403, title=title, explanation=explanation), 403
    if not current_user.has_2fa:
        return render_template("staff/needs_2fa.html"), 403
    return None


@bp.after_request
def never_cache(response):
    """Staff pages show customers' data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def staff_shell():
    """The console's side navigation for the signed-in staff member: only what their roles open."""
    if not (current_user.is_authenticated and current_user.is_staff):
        return {}
    sections = navigation.sections_for(current_user)
    return {"staff_sections": sections, "staff_current": navigation.current_section(sections, request.endpoint),
            "staff_waiting": waiting_counts(current_user, utcnow().date())}
