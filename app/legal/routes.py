"""The legal pages, their history, and acknowledging notices of significant changes."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, has_request_context, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.legal import services
from app.legal.models import DOCUMENTS
from app.security import customer, public, safe_next
from app.timeutil import utcnow

bp = Blueprint("legal", __name__)


def in_force(document: str, locale: str, today):
    """The version in force, publishing the shipped documents first on a fresh database."""
    services.ensure_published()
    return services.current(document, locale, today)


def _show(document: str, label: str | None = None):
    now, locale = utcnow(), str(get_locale())
    current = in_force(document, locale, now.date())
    version = services.find_version(document, label, locale, now.date()) if label else current
    if version is None:
        abort(404)
    if current_user.is_authenticated and label is None:
        services.mark_viewed(current_user.id, document, now)
    upcoming = services.upcoming(document, locale, now.date()) if label is None else None
    return render_template("legal/document.html", doc=services.render(version, current_app.config),
                           document=document, upcoming=upcoming, in_force=current,
                           archived=label is not None and current is not None and version.version != current.version)


@bp.get("/privacy")
@public
def show_privacy():
    """The privacy policy in force, with its "Last updated" date and live facts, and the next
    version announced when one is published but not yet in effect."""
    return _show("privacy")


@bp.get("/privacy/<version>")
@public
def show_privacy_version(version: str):
    """One version of the privacy policy, past or upcoming, at a stable address."""
    return _show("privacy", version)


@bp.get("/terms")
@public
def show_terms():
    """The terms of service in force."""
    return _show("terms")


@bp.get("/terms/<version>")
@public
def show_terms_version(version: str):
    """One version of the terms of service."""
    return _show("terms", version)


@bp.get("/cookies/policy/<version>")
@public
def show_cookies_version(version: str):
    """One version of the cookie policy (the one in force is on /cookies, with the settings)."""
    return _show("cookies", version)


@bp.get("/privacy/history")
@public
def show_history():
    """Every published version with its summary, and what changed between two of them."""
    document = request.args.get("document", "privacy")
    if document not in DOCUMENTS:
        abort(404)
    locale, today = str(get_locale()), utcnow().date()
    in_force(document, locale, today)
    all_versions = services.versions(document, locale, today)
    by_label = {v.version: v for v in all_versions}
    older, newer = by_label.get(request.args.get("from", "")), by_label.get(request.args.get("to", ""))
    changes = services.diff(older, newer, current_app.config) if older and newer else None
    return render_template("legal/history.html", document=document, versions=all_versions, documents=DOCUMENTS,
                           older=older, newer=newer, changes=changes)


@bp.post("/legal/acknowledge")
@customer
def acknowledge():
    """Hide the notice of a significant change."""
    services.acknowledge(current_user.id, utcnow())
    return redirect(safe_next(request.form.get("next"), url_for("account.show_dashboard")), code=303)


def init_app(app) -> None:
    """Pages get the signed-in user's pending notices."""
    app.context_processor(notices_context)


def notices_context():
    """Signed-in users' pending notices of significant changes (none outside requests, e.g. e-mail)."""
    if not has_request_context() or not current_user or not current_user.is_authenticated \
            or request.path.startswith(("/api/", "/static/")):
        return {"policy_notices": []}
    if not g.get("has_policy_notices", True):  # the user loader found none waiting
        return {"policy_notices": []}
    notices = services.pending_notices(current_user.id)
    if not notices:
        return {"policy_notices": []}
    return {"policy_notices": services.notice_details(notices, str(get_locale()), utcnow().date())}
