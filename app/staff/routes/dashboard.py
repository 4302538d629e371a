"""Staff console: the dashboard, analytics and the policy notices' figures."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from app import charts, processing
from app.audit import access
from app.consent import services as consent_services
from app.contact import services as contact
from app.legal import services as legal
from app.security import staff
from app.staff import services as staff_services
from app.staff.blueprint import bp
from app.staff.forms import ReviewAccessForm, first_error
from app.timeutil import utcnow


@bp.get("/")
@staff()
def show_dashboard():
    """The staff home: who you are, what your roles allow, and the latest staff actions."""
    reviewer = current_user.has_role("admin", "privacy")
    recent = staff_services.recent_audit() if reviewer else []
    counts = contact.inbox_counts() if current_user.has_role("support", "admin") else None
    return render_template("staff/dashboard.html", recent=recent, inbox=counts,
                           unlinked=access.waiting_review() if reviewer else [],
                           **staff_services.dashboard_counts(current_user, utcnow().date()))


@bp.post("/accesses/<int:access_id>/review")
@staff("admin", "privacy")
def review_access(access_id: int):
    """Mark a flagged access (one tied to no ticket, request or order) as reviewed, with a note."""
    form = ReviewAccessForm()
    if not form.validate_on_submit():
        flash(first_error(form), "error")
    elif access.mark_reviewed(access_id, current_user, form.note.data, utcnow(), request.remote_addr):
        flash(_("The access is marked as reviewed."), "success")
    else:
        flash(_("That access was already reviewed."), "info")
    return redirect(url_for("staff.show_dashboard", _anchor="unlinked-title"), code=303)


@bp.get("/analytics")
@staff("admin")
def show_analytics():
    """First-party page analytics: views and unique visitors per day, and the most viewed pages."""
    days = min(max(request.args.get("days", 30, type=int) or 30, 7), 366)
    until = utcnow().date()
    since = until - timedelta(days=days - 1)
    totals = consent_services.daily_totals(since, until)
    chart = charts.bar_chart([t["views"] for t in totals], line=[t["visitors"] for t in totals],
                             highlight=len(totals) - 1)
    tips = [_("%(day)s — page views: %(views)s, unique visitors: %(visitors)s", day=format_date(t["day"], "medium"),
              views=format_decimal(t["views"]), visitors=format_decimal(t["visitors"])) for t in totals]
    return render_template("staff/analytics.html", totals=totals, chart=chart, days=days, tips=tips,
                           top=consent_services.top_pages(since, until))


@bp.get("/ropa.<form>")
@staff("admin", "privacy")
def download_ropa(form: str):
    """The record of processing activities (GDPR Art. 30), generated from the code."""
    if form not in ("md", "csv"):
        abort(404)
    text = processing.markdown(current_app.config) if form == "md" else processing.csv_text(current_app.config)
    mimetype = "text/markdown" if form == "md" else "text/csv"
    return Response(text, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="record-of-processing.{form}"'})


@bp.get("/policies")
@staff("admin", "privacy")
def show_policy_notices():
    """How many users were notified of each significant change, and how many viewed or acknowledged it."""
    return render_template("staff/policies.html", stats=legal.notice_stats())
