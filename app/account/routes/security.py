"""The security page (sessions, activity) and two-factor authentication with an authenticator app."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from app.account.blueprint import bp, no_store, recovery_codes_page
from app.auth import activity, passkeys, services, twofactor
from app.auth.forms import ActionForm, EnableTwoFactorForm, SecondFactorForm
from app.auth.guards import recent_auth_required, request_client
from app.auth.models import SecurityEventTag, SessionEndReason
from app.security import customer
from app.timeutil import utcnow


@bp.get("/account/security")
@customer
def show_security():
    """Second factors, active sessions (with a button to end each one) and recent activity."""
    row = g.get("user_session")
    return render_template(
        "account/security.html",
        sessions=services.active_sessions(current_user),
        events=activity.recent_events(current_user, current_app.config, utcnow()),
        current_session_id=row.id if row else None,
        describe=activity.describe_user_agent,
        action_form=ActionForm(),
        recovery_left=twofactor.remaining_recovery_codes(current_user) if current_user.has_2fa else None,
        passkeys=passkeys.user_passkeys(current_user),
    )


@bp.post("/account/security/sessions/<int:session_id>/end")
@customer
def end_session(session_id: int):
    """End one of the user's own sessions (another user's id is simply not found)."""
    target = next((s for s in services.active_sessions(current_user) if s.id == session_id), None)
    if target is None:
        flash(_("That session had already ended."), "info")
        return redirect(url_for("account.show_security"), code=303)
    services.end_session(target, SessionEndReason.ENDED_BY_USER, utcnow())
    activity.record_event(current_user, SecurityEventTag.SESSION_END, request_client(), utcnow())
    current = g.get("user_session")
    if current is not None and current.id == session_id:
        logout_user()
        session.clear()
        flash(_("You are signed out."), "info")
        return redirect(url_for("pages.show_home"), code=303)
    flash(_("The session is ended."), "success")
    return redirect(url_for("account.show_security"), code=303)


@bp.post("/account/security/sessions/end-others")
@customer
def end_other_sessions():
    """End every session except this one, after a confirmation step that says how many."""
    current = g.get("user_session")
    others = [s for s in services.active_sessions(current_user) if current is None or s.id != current.id]
    if request.form.get("confirmed") != "yes":
        return render_template(
            "account/confirm.html", title=_("Sign out everywhere else?"),
            consequence=ngettext("%(num)s other session ends: that device is signed out at once and needs the "
                                 "password (and second factor) to come back.",
                                 "%(num)s other sessions end: those devices are signed out at once and need the "
                                 "password (and second factor) to come back.", len(others)),
            button=_("Sign out the other sessions"), action_url=url_for("account.end_other_sessions"),
            cancel_url=url_for("account.show_security"), fields={})
    count = services.end_sessions(current_user, SessionEndReason.ENDED_BY_USER, utcnow(),
                                  keep_id=current.id if current else None)
    if count:
        activity.record_event(current_user, SecurityEventTag.SESSION_END, request_client(), utcnow())
    flash(ngettext("%(num)s other session ended; that device is signed out.",
                   "%(num)s other sessions ended; those devices are signed out.", count), "success")
    return redirect(url_for("account.show_security"), code=303)


# --- two-factor authentication ----------------------------------------------------------------

@bp.get("/account/security/2fa")
@customer
@recent_auth_required
def show_two_factor():
    """Set up the authenticator app (QR code and key), or manage it when it is on."""
    if current_user.has_totp:
        html = render_template("account/two_factor.html", action_form=SecondFactorForm(),
                               recovery_left=twofactor.remaining_recovery_codes(current_user))
        return no_store(current_app.make_response(html))
    if not current_user.totp_secret:
        twofactor.begin_setup(current_user)
    return _render_setup(EnableTwoFactorForm())


def _render_setup(form, status: int = 200):
    uri = twofactor.provisioning_uri(current_user, current_app.config["SITE_NAME"])
    html = render_template("account/two_factor_setup.html", form=form, qr_svg=twofactor.qr_svg(uri),
                           secret=current_user.totp_secret)
    return no_store(current_app.make_response((html, status)))


@bp.post("/account/security/2fa/enable")
@customer
@recent_auth_required
def enable_two_factor():
    """Turn the app on once it shows a matching code. As the first second factor it comes with
    recovery codes, shown once; next to a passkey the existing recovery codes stay valid."""
    if current_user.has_totp or not current_user.totp_secret:
        return redirect(url_for("account.show_two_factor"), code=303)
    form = EnableTwoFactorForm()
    if form.validate_on_submit():
        codes = twofactor.confirm_setup(current_user, form.code.data, utcnow())
        if codes is not None:
            row = g.get("user_session")  # a thief's session must not outlive the new second factor
            services.end_sessions(current_user, SessionEndReason.TWO_FACTOR_ENABLED, utcnow(),
                                  keep_id=row.id if row else None)
            activity.record_event(current_user, SecurityEventTag.TWO_FACTOR_ENABLE, request_client(), utcnow())
            activity.notify_two_factor_changed(current_user, True, current_app.config)
            if codes:
                return recovery_codes_page(codes)
            flash(_("The authenticator app is on. Your existing recovery codes keep working; no new ones were "
                    "made."), "success")
            return redirect(url_for("account.show_two_factor"), code=303)
        form.code.errors.append(_("That code does not match. Check the time on your device and try again."))
    return _render_setup(form, 400)


@bp.post("/account/security/2fa/disable")
@customer
@recent_auth_required
def disable_two_factor():
    """Remove the authenticator app; a current code (or a recovery code) is required. With a
    passkey left, two-factor authentication stays on (and the recovery codes stay)."""
    form = SecondFactorForm()
    if current_user.has_totp and form.validate_on_submit():
        if activity.check_second_factor(current_user, form.code.data, request_client(), current_app.config, utcnow()):
            twofactor.disable(current_user)
            still_on = current_user.has_2fa
            activity.record_event(current_user, SecurityEventTag.TWO_FACTOR_DISABLE, request_client(), utcnow())
            activity.notify_two_factor_changed(current_user, still_on, current_app.config,
                                               change="app_off" if still_on else None)
            flash(_("The authenticator app is removed; your passkeys still protect your account.") if still_on
                  else _("Two-factor authentication is off."), "success")
            return redirect(url_for("account.show_security"), code=303)
        form.code.errors.append(_("That code is not right, or was already used."))
    html = render_template("account/two_factor.html", action_form=form,
                           recovery_left=twofactor.remaining_recovery_codes(current_user))
    return no_store(current_app.make_response((html, 400)))


@bp.post("/account/security/2fa/recovery-codes")
@customer
@recent_auth_required
def regenerate_recovery_codes():
    """Replace the recovery codes (the old ones stop working) and show the new ones once."""
    if not current_user.has_2fa:
        return redirect(url_for("account.show_two_factor"), code=303)
    codes = twofactor.new_recovery_codes(current_user, utcnow())
    activity.record_event(current_user, SecurityEventTag.RECOVERY_CODES_NEW, request_client(), utcnow())
    activity.notify_two_factor_changed(current_user, True, current_app.config, change="recovery_codes")
    return recovery_codes_page(codes)
