"""Signing in with a passkey alone, using one as the second factor, and confirming it is you
with one. The page's script puts the authenticator's answer into a form and sends it, so every
answer comes back as a page: signed in, or the same page with what went wrong."""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth import activity, passkeys, services, signin
from app.auth.blueprint import bp, finish_pending_sign_in, finish_sign_in, pending_sign_in
from app.auth.forms import LoginForm, PasskeyForm, PasskeyReauthForm, ReauthForm, SecondFactorForm
from app.auth.guards import request_client
from app.auth.models import SecurityEventTag
from app.auth.pages import REFUSALS, SECOND_FACTOR_LIMIT, render_login, render_reauth, render_second_factor
from app.auth.passwords import verify_password
from app.auth.signin import Step
from app.extensions import limiter
from app.security import customer, public, safe_next
from app.throttle import check as throttle_check
from app.throttle import hit as throttle_hit
from app.throttle import throttle_key
from app.timeutil import utcnow
from app.uow import keep_on_error

PASSKEY_SIGN_IN_LIMIT = "30 per 5 minutes"
REASONS = {
    "expired": _l("That took too long. Please try again."),
    "replayed": _l("That passkey answer was already used. Please try again."),
    "unknown": _l("That passkey is not registered for this account. Choose another, or use your password."),
    "cloned": _l("That passkey was refused: its counter went backwards, which means a copy of it exists. Sign in "
                 "another way and remove it on your security page."),
    "unverified": _l("This key does not check your PIN or fingerprint, so it proves the key but not you: enter your "
                     "password too, then use the key again."),
}
NOT_ACCEPTED = _l("The passkey could not be checked. Please try again, or use your password.")


def _check(form, purpose: str, user, password_confirmed: bool = False):
    """The passkey that answered, or None with the reason added to the form's errors. A cloned
    passkey's mark and its security event are kept (committed); any other refusal leaves nothing."""
    if not form.validate_on_submit():
        return None
    try:
        passkey = passkeys.authenticate(form.credential.data, purpose, user, current_app.config, utcnow(),
                                        password_confirmed=password_confirmed)
    except passkeys.PasskeyRefused as refused:
        if refused.reason == "cloned":  # found now: on record, and the owner is told at once
            owner = refused.passkey.user
            activity.record_event(owner, SecurityEventTag.PASSKEY_CLONED, request_client(), utcnow())
            activity.notify_passkey_cloned(owner, refused.passkey.name, current_app.config)
            keep_on_error()  # a cloned passkey's mark and its security event stay with the refusal
        form.credential.errors.append(str(REASONS.get(refused.reason.replace("_before", ""), NOT_ACCEPTED)))
        return None
    return passkey


@bp.post("/login/passkey")
@public
@limiter.limit(PASSKEY_SIGN_IN_LIMIT)
def login_with_passkey():
    """Sign in with a passkey alone (it verified its user: a PIN or biometrics)."""
    next_url = safe_next(request.form.get("next"), url_for("account.show_dashboard"))
    if current_user.is_authenticated:
        return redirect(next_url, code=303)
    form = PasskeyForm()
    passkey = _check(form, passkeys.SIGN_IN, None)
    if passkey is None:
        return render_login(LoginForm(formdata=None), next_url, 400, passkey_errors=form.credential.errors)
    user, now = passkey.user, utcnow()
    refused = signin.refusal(user, current_app.config, now)
    if refused is Step.MINOR:
        return render_template("auth/minor.html"), 403
    if refused is not None:
        message, status = REFUSALS[refused]
        return render_login(LoginForm(formdata=None), next_url, status, passkey_errors=[str(message)])
    reopened = user.closed_at is not None
    if reopened:
        services.reopen_account(user)
    return finish_sign_in(user, bool(form.remember.data), next_url, reopened)


@bp.post("/login/2fa/passkey")
@public
def login_second_factor_passkey():
    """The second step of signing in, answered with one of the account's passkeys."""
    user = pending_sign_in()
    if user is None:
        return redirect(url_for("auth.login"), code=303)
    key = throttle_key("second-factor", str(user.id))
    verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
    form = PasskeyForm()
    if not verdict.allowed:
        return render_second_factor(user, SecondFactorForm(formdata=None), 429,
                                    throttled_minutes=max(1, round(verdict.retry_after / 60)))
    if _check(form, passkeys.SECOND_FACTOR, user) is None:
        throttle_hit(SECOND_FACTOR_LIMIT, key)
        activity.record_event(user, SecurityEventTag.LOGIN_FAILURE, request_client(), utcnow())
        keep_on_error()  # the failed attempt's security event stays with the 400
        return render_second_factor(user, SecondFactorForm(formdata=None), 400, passkey_errors=form.credential.errors)
    return finish_pending_sign_in(user)


@bp.post("/reauth/passkey")
@customer
def reauthenticate_passkey():
    """Confirm it is you with a passkey that verifies its user, or with a security key and the
    password together (a key that only senses a touch proves the key, not the person); then go back."""
    next_url = safe_next(request.form.get("next"), url_for("account.show_security"))
    form = PasskeyReauthForm()
    password_confirmed = False
    if form.key_password.data:  # checked as on the password form: throttled, counted when wrong
        key = throttle_key("reauth", str(current_user.id))
        verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
        if not verdict.allowed:
            return render_reauth(ReauthForm(formdata=None), next_url, 429,
                                 throttled_minutes=max(1, round(verdict.retry_after / 60)))
        password_confirmed = verify_password(current_user.password_hash, form.key_password.data)[0]
        if not password_confirmed:
            throttle_hit(SECOND_FACTOR_LIMIT, key)
            return render_reauth(ReauthForm(formdata=None), next_url, 400,
                                 passkey_errors=[_("Your password is not right.")])
    if _check(form, passkeys.REAUTH, current_user, password_confirmed) is None:
        return render_reauth(ReauthForm(formdata=None), next_url, 400, passkey_errors=form.credential.errors)
    services.mark_reauthenticated(g.get("user_session"), utcnow())
    session.pop("reauth_for", None)
    return redirect(next_url, code=303)
