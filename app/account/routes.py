"""The portal's account pages: dashboard, profile, security activity and sessions, two-factor
authentication."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from app.auth import activity, services, twofactor
from app.auth.forms import (
    ActionForm,
    ChangeEmailForm,
    ChangePasswordForm,
    EnableTwoFactorForm,
    ProfileForm,
    SecondFactorForm,
)
from app.auth.guards import recent_auth_required, request_client
from app.billing import services as billing_services
from app.extensions import db
from app.i18n import LANG_COOKIE, normalise_locale
from app.keys import services as key_services
from app.security import customer
from app.timeutil import utcnow
from app.usage import services as usage_services

bp = Blueprint("account", __name__)


@bp.get("/account")
@customer
def show_dashboard():
    """The account overview: verification, balance, this month's calls and the keys at a glance."""
    now = utcnow()
    keys = key_services.active_keys(current_user, now)
    steps = {"confirm": not current_user.is_verified, "key": not keys,
             "call": not usage_services.has_calls(current_user.id),
             "buy": not billing_services.has_paid_order(current_user.id)}
    return render_template("account/dashboard.html", action_form=ActionForm(), keys=keys, steps=steps,
                           month=usage_services.month_totals(current_user.id, now.date()),
                           packs=current_app.config["PRICING"].credit_packs)


@bp.route("/account/profile", methods=["GET", "POST"])
@customer
def edit_profile():
    """Correct one's data: nickname and language (password and e-mail have their own forms)."""
    form = _profile_form()
    if form.validate_on_submit():
        services.update_profile(current_user, form.nickname.data, normalise_locale(form.locale.data))
        db.session.commit()
        flash(_("Your profile is saved."), "success")
        response = redirect(url_for("account.edit_profile"), code=303)
        if current_user.locale:
            # The saved language now decides; an older cookie choice must not linger beside it.
            response.delete_cookie(LANG_COOKIE)
        return response
    return _render_profile(profile_form=form)


def _profile_form(**kwargs) -> ProfileForm:
    return ProfileForm(data={"nickname": current_user.nickname or "", "locale": current_user.locale or ""}, **kwargs)


def _render_profile(status: int = 200, **forms):
    forms.setdefault("profile_form", _profile_form(formdata=None))
    forms.setdefault("password_form", ChangePasswordForm(email=current_user.email, formdata=None, prefix="password"))
    forms.setdefault("email_form", ChangeEmailForm(formdata=None, prefix="email"))
    return render_template("account/profile.html", **forms), status


@bp.post("/account/profile/password")
@customer
@recent_auth_required
def change_password():
    """Change the password (the current one is required); other sessions end."""
    form = ChangePasswordForm(email=current_user.email, prefix="password")
    if form.validate_on_submit():
        row = g.get("user_session")
        changed = services.change_password(current_user, form.current_password.data, form.password.data,
                                           row.id if row else None, current_app.config, utcnow())
        if changed:
            activity.record_event(current_user, "auth:password:change", request_client(), utcnow())
            db.session.commit()
            flash(_("Your password is changed. Your other sessions were signed out."), "success")
            return redirect(url_for("account.edit_profile"), code=303)
        form.current_password.errors.append(_("Your current password is not right."))
    return _render_profile(400, password_form=form)


@bp.post("/account/profile/email")
@customer
@recent_auth_required
def change_email():
    """Start an e-mail change: a link goes to the new address; the old one is told when it is done."""
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            accepted = services.request_email_change(current_user, form.current_password.data, form.new_email.data,
                                                     current_app.config, utcnow())
        except services.InvalidEmail:
            form.new_email.errors.append(_("Enter a valid e-mail address, like name@example.com."))
        else:
            if accepted:
                db.session.commit()
                flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.",
                        email=form.new_email.data.strip()), "success")
                return redirect(url_for("account.edit_profile"), code=303)
            form.current_password.errors.append(_("Your current password is not right."))
    return _render_profile(400, email_form=form)


@bp.get("/account/security")
@customer
def show_security():
    """Active sessions, with a button to end each one."""
    row = g.get("user_session")
    return render_template(
        "account/security.html",
        sessions=services.active_sessions(current_user),
        events=activity.recent_events(current_user, current_app.config, utcnow()),
        current_session_id=row.id if row else None,
        describe=activity.describe_user_agent,
        action_form=ActionForm(),
        recovery_left=twofactor.remaining_recovery_codes(current_user) if current_user.has_2fa else None,
    )


@bp.post("/account/security/sessions/<int:session_id>/end")
@customer
def end_session(session_id: int):
    """End one of the user's own sessions (another user's id is simply not found)."""
    target = next((s for s in services.active_sessions(current_user) if s.id == session_id), None)
    if target is None:
        flash(_("That session had already ended."), "info")
        return redirect(url_for("account.show_security"), code=303)
    services.end_session(target, "ended_by_user", utcnow())
    activity.record_event(current_user, "auth:session:end", request_client(), utcnow())
    db.session.commit()
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
    count = services.end_sessions(current_user, "ended_by_user", utcnow(), keep_id=current.id if current else None)
    if count:
        activity.record_event(current_user, "auth:session:end", request_client(), utcnow())
    db.session.commit()
    flash(ngettext("%(num)s other session ended; that device is signed out.",
                   "%(num)s other sessions ended; those devices are signed out.", count), "success")
    return redirect(url_for("account.show_security"), code=303)


# --- two-factor authentication ----------------------------------------------------------------


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account/security/2fa")
@customer
@recent_auth_required
def show_two_factor():
    """Set up two-factor authentication (QR code and key), or manage it when it is on."""
    if current_user.has_2fa:
        html = render_template("account/two_factor.html", action_form=SecondFactorForm(),
                               recovery_left=twofactor.remaining_recovery_codes(current_user))
        return _no_store(current_app.make_response(html))
    if not current_user.totp_secret:
        twofactor.begin_setup(current_user)
        db.session.commit()
    return _render_setup(EnableTwoFactorForm())


def _render_setup(form, status: int = 200):
    uri = twofactor.provisioning_uri(current_user, current_app.config["SITE_NAME"])
    html = render_template("account/two_factor_setup.html", form=form, qr_svg=twofactor.qr_svg(uri),
                           secret=current_user.totp_secret)
    return _no_store(current_app.make_response((html, status)))


@bp.post("/account/security/2fa/enable")
@customer
@recent_auth_required
def enable_two_factor():
    """Turn 2FA on once the app shows a matching code; show the recovery codes once."""
    if current_user.has_2fa or not current_user.totp_secret:
        return redirect(url_for("account.show_two_factor"), code=303)
    form = EnableTwoFactorForm()
    if form.validate_on_submit():
        codes = twofactor.confirm_setup(current_user, form.code.data, utcnow())
        if codes:
            row = g.get("user_session")  # a thief's session must not outlive the new second factor
            services.end_sessions(current_user, "2fa_enabled", utcnow(), keep_id=row.id if row else None)
            activity.record_event(current_user, "auth:2fa:enable", request_client(), utcnow())
            activity.notify_two_factor_changed(current_user, True, current_app.config)
            db.session.commit()
            return _show_codes(codes)
        db.session.rollback()
        form.code.errors.append(_("That code does not match. Check the time on your device and try again."))
    return _render_setup(form, 400)


@bp.post("/account/security/2fa/disable")
@customer
@recent_auth_required
def disable_two_factor():
    """Turn 2FA off; a current code (or a recovery code) is required."""
    form = SecondFactorForm()
    if current_user.has_2fa and form.validate_on_submit():
        if activity.check_second_factor(current_user, form.code.data, request_client(), current_app.config, utcnow()):
            twofactor.disable(current_user)
            activity.record_event(current_user, "auth:2fa:disable", request_client(), utcnow())
            activity.notify_two_factor_changed(current_user, False, current_app.config)
            db.session.commit()
            flash(_("Two-factor authentication is off."), "success")
            return redirect(url_for("account.show_security"), code=303)
        db.session.rollback()
        form.code.errors.append(_("That code is not right, or was already used."))
    html = render_template("account/two_factor.html", action_form=form,
                           recovery_left=twofactor.remaining_recovery_codes(current_user))
    return _no_store(current_app.make_response((html, 400)))


@bp.post("/account/security/2fa/recovery-codes")
@customer
@recent_auth_required
def regenerate_recovery_codes():
    """Replace the recovery codes (the old ones stop working) and show the new ones once."""
    if not current_user.has_2fa:
        return redirect(url_for("account.show_two_factor"), code=303)
    codes = twofactor.new_recovery_codes(current_user, utcnow())
    activity.record_event(current_user, "auth:2fa:recovery_codes", request_client(), utcnow())
    activity.notify_two_factor_changed(current_user, True, current_app.config, change="recovery_codes")
    db.session.commit()
    return _show_codes(codes)


def _show_codes(codes: list[str]):
    """The recovery codes, shown once (never stored in a cache), with their text-file download."""
    return _no_store(current_app.make_response(render_template("account/recovery_codes.html", codes=codes,
                                                               now=utcnow())))
