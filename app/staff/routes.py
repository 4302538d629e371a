"""Staff console views. The blueprint guards itself: see ``require_staff``."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from app import charts
from app.audit.models import AuditEntry
from app.consent import services as consent_services
from app.errors.services import error_texts
from app.extensions import db
from app.security import staff
from app.staff import bp
from app.timeutil import utcnow


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


@bp.get("/")
@staff()
def show_dashboard():
    """The staff home: who you are, what your roles allow, and the latest staff actions."""
    recent = []
    if current_user.has_role("admin", "privacy"):
        recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(20)).all()
    return render_template("staff/dashboard.html", recent=recent)


@bp.get("/analytics")
@staff("admin")
def show_analytics():
    """First-party page analytics: views and unique visitors per day, and the most viewed pages."""
    days = min(max(request.args.get("days", 30, type=int) or 30, 7), 366)
    until = utcnow().date()
    since = until - timedelta(days=days - 1)
    totals = consent_services.daily_totals(since, until)
    chart = charts.bar_chart([(t["day"].isoformat(), t["views"]) for t in totals])
    return render_template("staff/analytics.html", totals=totals, chart=chart, days=days,
                           top=consent_services.top_pages(since, until))
