"""The privacy centre on /account/privacy."""

from __future__ import annotations

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.audit import services as audit
from app.auth.guards import recent_auth_required
from app.consent import services as consent_services
from app.extensions import db
from app.rights import bp, export, services
from app.rights.forms import CloseAccountForm
from app.security import customer
from app.timeutil import utcnow


@bp.get("/account/privacy")
@customer
def show_privacy():
    """Export, consent history and account closure in one place."""
    return render_template("rights/privacy.html", form=CloseAccountForm(formdata=None),
                           consents=consent_services.history(None, current_user.id))


@bp.get("/account/privacy/export")
@customer
@recent_auth_required
def download_export():
    """Everything we hold about the account, as a ZIP streamed to the browser."""
    now = utcnow()
    audit.record(current_user, "privacy:export", now, target_user=current_user, ip=request.remote_addr)
    db.session.commit()
    user, config, locale = current_user._get_current_object(), current_app.config, str(get_locale())
    body = stream_with_context(export.export_zip(user, config, locale, now))
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="twtapi-export-{now:%Y%m%d}.zip"',
        "Cache-Control": "no-store"})


@bp.post("/account/privacy/close")
@customer
@recent_auth_required
def close_account():
    """Close the account (typing the e-mail address confirms it); sign-in within the grace period reopens it."""
    form = CloseAccountForm()
    if not form.validate_on_submit() or form.confirm_email.data.lower() != current_user.email:
        if form.confirm_email.data:
            form.confirm_email.errors.append(_("That is not your account's e-mail address."))
        return render_template("rights/privacy.html", form=form,
                               consents=consent_services.history(None, current_user.id)), 400
    services.close_account(current_user, current_app.config, utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Your account is closed. Sign in within %(days)s days to reopen it; after %(purge)s days it is erased.",
            days=current_app.config["ACCOUNT_GRACE_DAYS"], purge=current_app.config["ACCOUNT_PURGE_DAYS"]), "info")
    return redirect(url_for("pages.show_home"), code=303)
