"""Staff console: the dashboard, analytics and the policy notices' figures."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from app import charts
from app.audit.models import AuditEntry
from app.billing.models import Order, WebhookEvent
from app.consent import services as consent_services
from app.contact import services as contact
from app.email import OutboxMessage
from app.extensions import db
from app.legal import services as legal
from app.rights import workflow as rights
from app.security import staff
from app.staff.blueprint import bp
from app.timeutil import utcnow


@bp.get("/")
@staff()
def show_dashboard():
    """The staff home: who you are, what your roles allow, and the latest staff actions."""
    recent = []
    if current_user.has_role("admin", "privacy"):
        recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(20)).all()
    counts = contact.inbox_counts() if current_user.has_role("support", "admin") else None
    return render_template("staff/dashboard.html", recent=recent, inbox=counts, **_dashboard_counts())


def _dashboard_counts() -> dict:

    today = utcnow().date()
    counts = {}
    if current_user.has_role("privacy", "admin"):
        counts["requests_week"] = len(rights.queue("week", current_user.id, today))
        counts["requests_overdue"] = len(rights.queue("overdue", current_user.id, today))
    if current_user.has_role("billing", "admin"):
        counts["recent_orders"] = db.session.scalars(select(Order).order_by(Order.id.desc()).limit(5)).all()
        counts["webhooks_unmatched"] = db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.outcome == "unknown order"))
    if current_user.has_role("admin"):
        counts["mail_failing"] = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0))
    return counts


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


@bp.get("/policies")
@staff("admin", "privacy")
def show_policy_notices():
    """How many users were notified of each significant change, and how many viewed or acknowledged it."""
    return render_template("staff/policies.html", stats=legal.notice_stats())
