"""Signing in with a password (and a second factor), confirming it is you, and signing out."""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.auth import activity, services, signin
from app.auth.blueprint import bp, finish_pending_sign_in, finish_sign_in, pending_sign_in
from app.auth.forms import LoginForm, ReauthForm, SecondFactorForm
from app.auth.guards import request_client
from app.auth.models import SecurityEventTag, SessionEndReason
from app.auth.pages import REFUSALS, SECOND_FACTOR_LIMIT, render_login, render_reauth, render_second_factor
from app.auth.passwords import verify_password
from app.auth.signin import Step
from app.security import customer, public, safe_next
from app.throttle import check as throttle_check
from app.throttle import hit as throttle_hit
from app.throttle import throttle_key
from app.timeutil import utcnow
from app.uow import keep_on_error


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in. One generic error for unknown addresses and wrong passwords; throttled."""
    next_url = safe_next(request.values.get("next"), url_for("account.show_dashboard"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if request.method == "GET" and request.args.get("check"):
        return render_login(form, next_url, 400, cookies_refused=True)
    if not form.validate_on_submit():
        return render_login(form, next_url)
    result = signin.sign_in(form.email.data, form.password.data, request.remote_addr, request_client(),
                            current_app.config, utcnow())
    keep_on_error()  # a failure's record is kept with the refusal (401/403/429) it answers
    if result.step is Step.THROTTLED:
        return render_login(form, next_url, 429, throttled_minutes=result.retry_minutes)
    if result.step is Step.MINOR:
        return render_template("auth/minor.html"), 403
    if result.step in REFUSALS:
        if result.step is Step.WRONG:
            current_app.logger.info("auth:login:failure")
        message, status = REFUSALS[result.step]
        form.password.errors.append(str(message))
        return render_login(form, next_url, status)
    if result.step is Step.SECOND_FACTOR:
        session.clear()
        session.update(pending_2fa_user=result.user.id, pending_2fa_remember=bool(form.remember.data),
                       pending_2fa_next=next_url, pending_2fa_at=time.time())
        return redirect(url_for("auth.login_second_factor"), code=303)
    return finish_sign_in(result.user, bool(form.remember.data), next_url, result.reopened)


@bp.route("/login/2fa", methods=["GET", "POST"])
@public
def login_second_factor():
    """The second step of signing in, for accounts with two-factor authentication: a code from
    the app, a recovery code, or a passkey (sent to ``auth.login_second_factor_passkey``)."""
    user = pending_sign_in()
    if user is None:
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        key = throttle_key("second-factor", str(user.id))
        verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
        if not verdict.allowed:
            return render_second_factor(user, form, 429, throttled_minutes=max(1, round(verdict.retry_after / 60)))
        now = utcnow()
        if not activity.check_second_factor(user, form.code.data, request_client(), current_app.config, now):
            throttle_hit(SECOND_FACTOR_LIMIT, key)
            activity.record_event(user, SecurityEventTag.LOGIN_FAILURE, request_client(), now)
            form.code.errors.append(_("That code is not right, or was already used."))
            return render_second_factor(user, form)
        return finish_pending_sign_in(user)
    return render_second_factor(user, form)


@bp.route("/reauth", methods=["GET", "POST"])
@customer
def reauthenticate():
    """Confirm the password (and second factor) before a sensitive action, then go back. A
    passkey alone does it too (``auth.reauthenticate_passkey``): it verifies its user itself."""
    next_url = safe_next(request.values.get("next"), url_for("account.show_security"))
    form = ReauthForm()
    if form.validate_on_submit():
        key = throttle_key("reauth", str(current_user.id))
        verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
        if not verdict.allowed:
            return render_reauth(form, next_url, 429, throttled_minutes=max(1, round(verdict.retry_after / 60)))
        now = utcnow()
        password_ok = verify_password(current_user.password_hash, form.password.data)[0]
        factor_ok = not current_user.has_2fa or (password_ok and activity.check_second_factor(
            current_user, form.code.data or "", request_client(), current_app.config, now))
        if password_ok and factor_ok:
            services.mark_reauthenticated(g.get("user_session"), now)
            session.pop("reauth_for", None)
            return redirect(next_url, code=303)
        throttle_hit(SECOND_FACTOR_LIMIT, key)
        target = form.code if password_ok else form.password
        target.errors.append(_("That code is not right, or was already used.") if password_ok
                             else _("Your password is not right."))
    return render_reauth(form, next_url)


@bp.post("/logout")
@public
def logout():
    """Sign out: end this session row and forget the browser's session."""
    row = g.get("user_session")
    if row is not None:
        services.end_session(row, SessionEndReason.LOGOUT, utcnow())
        activity.record_event(row.user, SecurityEventTag.LOGOUT, request_client(), utcnow())
        current_app.logger.info("auth:logout user=%s", row.user_id)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("pages.show_home"), code=303)
