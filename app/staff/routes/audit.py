"""Staff console: the audit log and its CSV (admin and privacy roles)."""

from __future__ import annotations

from datetime import date as date_type

from flask import Response, current_app, render_template, request, stream_with_context
from flask_login import current_user

from app import labels
from app.extensions import db
from app.forms import day_range_error
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.timeutil import utcnow


def _audit_filters():
    """The filters of the query string (an unreadable day is ignored) and the message for a day
    out of range (None when every day is usable)."""
    def day(name):
        try:
            return date_type.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None

    since, until = day("since"), day("until")
    error = day_range_error(since) or day_range_error(until)
    return (request.args.get("staff") or None, request.args.get("customer") or None,
            request.args.get("action") or None, since, until), error


def _render_audit(entries, error=None):
    actions = sorted(labels.choices("audit"), key=lambda pair: str(pair[1]))
    return render_template("staff/audit.html", entries=entries, args=request.args, audit_actions=actions,
                           anchor=staff_services.chain_anchor(), error=error), 400 if error else 200


@bp.get("/audit")
@staff("admin", "privacy")
def show_audit():
    """Every staff action and staff look at personal data; filter by staff, customer, action and date."""
    filters, error = _audit_filters()
    if error:
        return _render_audit([], error)
    staff_services.record_audit_read(current_user, staff_services.audit_query(*filters), False,
                                     request.query_string.decode(), filters[1], current_app.config, utcnow(),
                                     request.remote_addr)
    return _render_audit(db.session.scalars(staff_services.audit_query(*filters).limit(500)).all())


@bp.get("/audit.csv")
@staff("admin", "privacy")
def download_audit():
    """The filtered audit log as CSV (audited, and a read of each customer it is filtered to); a day
    out of range gets the page with its message, before any byte."""
    filters, error = _audit_filters()
    if error:
        return _render_audit([], error)
    staff_services.record_audit_read(current_user, staff_services.audit_query(*filters), True,
                                     request.query_string.decode(), filters[1], current_app.config, utcnow(),
                                     request.remote_addr)
    lines = staff_services.audit_csv(staff_services.audit_query(*filters))
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
