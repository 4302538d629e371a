"""The legal pages, their history, and acknowledging notices of significant changes."""

from __future__ import annotations

from flask import abort, current_app, has_request_context, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.extensions import db
from app.legal import bp, services
from app.legal.models import DOCUMENTS
from app.security import customer, public, safe_next
from app.timeutil import utcnow


def _show(document: str, template: str = "legal/document.html"):
    now = utcnow()
    version = services.current(document, str(get_locale()), now.date())
    if version is None:
        abort(404)
    if current_user.is_authenticated:
        services.mark_viewed(current_user.id, document, now)
        db.session.commit()
    return render_template(template, doc=services.render(version, current_app.config), document=document)


@bp.get("/privacy")
@public
def show_privacy():
    """The privacy policy, newest version, with its "Last updated" date and live facts."""
    return _show("privacy")


@bp.get("/terms")
@public
def show_terms():
    """The terms of service."""
    return _show("terms")


@bp.get("/privacy/history")
@public
def show_history():
    """Every published version with its summary, and what changed between two of them."""
    document = request.args.get("document", "privacy")
    if document not in DOCUMENTS:
        abort(404)
    locale, today = str(get_locale()), utcnow().date()
    all_versions = services.versions(document, locale, today)
    by_label = {v.version: v for v in all_versions}
    older, newer = by_label.get(request.args.get("from", "")), by_label.get(request.args.get("to", ""))
    changes = services.diff(older, newer) if older and newer else None
    return render_template("legal/history.html", document=document, versions=all_versions, documents=DOCUMENTS,
                           older=older, newer=newer, changes=changes)


@bp.post("/legal/acknowledge")
@customer
def acknowledge():
    """Hide the notice of a significant change."""
    services.acknowledge(current_user.id, utcnow())
    db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("auth.show_dashboard")), code=303)


def notices_context():
    """Signed-in users' pending notices of significant changes (none outside requests, e.g. e-mail)."""
    if not has_request_context() or not current_user or not current_user.is_authenticated \
            or request.path.startswith(("/api/", "/static/")):
        return {"policy_notices": []}
    return {"policy_notices": services.pending_notices(current_user.id)}
