"""Account views: thin wrappers that parse forms, call app.auth.services and commit once."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from app.auth import activity, services, signin
from app.auth.forms import (
    LoginForm,
    ReauthForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetRequestForm,
    SecondFactorForm,
)
from app.auth.guards import action_text, request_client
from app.auth.models import User
from app.auth.passwords import verify_password
from app.auth.signin import Step
from app.consent import services as consent_services
from app.extensions import db, limiter, login_manager
from app.i18n import select_locale
from app.security import customer, public, safe_next
from app.throttle import check as throttle_check
from app.throttle import hit as throttle_hit
from app.throttle import throttle_key
from app.timeutil import utcnow

bp = Blueprint("auth", __name__)

PENDING_2FA_SECONDS = 300
SECOND_FACTOR_LIMIT = "5 per 5 minutes"

# --- session loading (the glue between Flask-Login and our session rows) --------------------


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user, when the browser's session id matches an active session row."""
    loaded = services.load_session(session.get("sid"), current_app.config, utcnow())
    if loaded.changed:  # an idle or expired ending, or the coarse last-seen time: kept whatever the view does
        db.session.commit()
    row = loaded.row
    g.has_policy_notices = loaded.has_notices  # the notice banner needs no query of its own
    if row is None or str(row.user_id) != user_id or row.user.sign_in_blocked:
        session.pop("sid", None)
        session.pop("_user_id", None)
        return None
    g.user_session = row
    return row.user


@login_manager.unauthorized_handler
def ask_to_sign_in():
    flash(_("Please sign in to see this page."), "info")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=target))


def init_app(app) -> None:
    """Every request loads the signed-in user before its view runs."""
    app.before_request(load_signed_in_user)


def load_signed_in_user():
    """Load the user before the view runs, so session bookkeeping commits on its own."""
    if session.get("sid"):
        current_user._get_current_object()


def _welcome_back(user) -> None:
    """After a sign-in reopened a closed account (by any path): what came back and what did not."""
    flash(_("Welcome back: your account is open again, with its credits, orders and settings. Your old API keys "
            "stay revoked; make new ones."), "success")


def _sign_in(user, remember: bool) -> None:
    """Start a fresh session: the old session data (and any fixed id) is discarded."""
    now, client = utcnow(), request_client()
    if activity.is_new_device(user, client, current_app.config, now):
        activity.notify_new_device(user, client, current_app.config, now)
    secret = services.start_session(user, client.ip, client.user_agent, remember, current_app.config, now)
    activity.record_event(user, "auth:login:success", client, now)
    decision = g.get("consent")
    if decision is not None:  # the cookie choice made in this browser is now the account's too
        consent_services.link_to_account(decision.consent_id, user.id)
    session.clear()
    session["sid"] = secret
    session.permanent = remember
    login_user(user)


# --- registration and verification ------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register():
    """Create an account. Known and new addresses get the same answer (no enumeration)."""
    if current_user.is_authenticated:
        return redirect(url_for("account.show_dashboard"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            services.register(form.email.data, form.password.data, form.nickname.data, str(select_locale()),
                              current_app.config, utcnow())
        except services.InvalidEmail:
            form.email.errors.append(_("Enter a valid e-mail address, like name@example.com."))
        else:
            db.session.commit()
            return render_template("auth/check_inbox.html", email=services.normalise_email(form.email.data))
    return render_template("auth/register.html", form=form)


@bp.get("/verify-email/<token>")
@public
def verify_email(token: str):
    """Confirm an address from the e-mailed link (sign-up or e-mail change)."""
    user, changed = services.confirm_email_token(token, current_app.config, utcnow())
    if user is None:
        db.session.rollback()
        return render_template("auth/verify_failed.html"), 400
    if changed:
        activity.record_event(user, "auth:email:change", request_client(), utcnow())
    db.session.commit()
    flash(_("Thank you, your e-mail address %(email)s is confirmed.", email=user.email), "success")
    if current_user.is_authenticated:
        return redirect(url_for("account.show_dashboard"))
    return redirect(url_for("auth.login"))


@bp.post("/account/verify-email/resend")
@customer
def resend_verification():
    """Send a new verification link (at most a few an hour)."""
    if current_user.is_verified:
        flash(_("Your e-mail address is already confirmed."), "info")
        return redirect(url_for("account.show_dashboard"))
    verdict = services.resend_verification(current_user, current_app.config, utcnow())
    db.session.commit()
    if verdict.allowed:
        flash(_("We sent a new link to %(email)s.", email=current_user.email), "success")
    else:
        minutes = max(1, round(verdict.retry_after / 60))
        flash(_("You asked for several links already. Please wait %(minutes)s minutes and check your spam "
                "folder.", minutes=minutes), "warning")
    return redirect(url_for("account.show_dashboard"))


# --- sign in and out -------------------------------------------------------------------------

REFUSALS = {  # what a refused sign-in says, and its status
    Step.WRONG: (_l("The e-mail address or password is not right."), 200),
    Step.SUSPENDED: (_l("This account is suspended. Write to us to find out why."), 403),
    Step.BEING_ERASED: (_l("This account is closed and is being erased. Write to us if this is a mistake."), 200),
}


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Sign in. One generic error for unknown addresses and wrong passwords; throttled."""
    next_url = safe_next(request.values.get("next"), url_for("account.show_dashboard"))
    if request.method == "GET" and request.args.get("check"):
        if current_user.is_authenticated:
            return redirect(next_url)
        form = LoginForm()
        return render_template("auth/login.html", form=form, next_url=next_url, cookies_refused=True), 400
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next_url=next_url)
    result = signin.sign_in(form.email.data, form.password.data, request.remote_addr, request_client(),
                            current_app.config, utcnow())
    db.session.commit()  # a failure's record, or a re-hashed password kept even if the code never comes
    if result.step is Step.THROTTLED:
        return render_template("auth/login.html", form=form, next_url=next_url,
                               throttled_minutes=result.retry_minutes), 429
    if result.step is Step.MINOR:
        return render_template("auth/minor.html"), 403
    if result.step in REFUSALS:
        if result.step is Step.WRONG:
            current_app.logger.info("auth:login:failure")
        message, status = REFUSALS[result.step]
        form.password.errors.append(str(message))
        return render_template("auth/login.html", form=form, next_url=next_url), status
    if result.step is Step.SECOND_FACTOR:
        session.clear()
        session.update(pending_2fa_user=result.user.id, pending_2fa_remember=bool(form.remember.data),
                       pending_2fa_next=next_url, pending_2fa_at=time.time())
        return redirect(url_for("auth.login_second_factor"), code=303)
    _sign_in(result.user, bool(form.remember.data))
    db.session.commit()
    current_app.logger.info("auth:login:success user=%s", result.user.id)
    if result.reopened:
        _welcome_back(result.user)
    # Come back through the cookie check: if the browser refused the session cookie, say so.
    return redirect(url_for("auth.login", check=1, next=next_url), code=303)


@bp.route("/login/2fa", methods=["GET", "POST"])
@public
def login_second_factor():
    """The second step of signing in, for accounts with two-factor authentication."""
    user_id, started = session.get("pending_2fa_user"), session.get("pending_2fa_at", 0)
    if not user_id:
        return redirect(url_for("auth.login"))
    user = db.session.get(User, user_id)
    if user is None or time.time() - started > PENDING_2FA_SECONDS:
        for key in ("pending_2fa_user", "pending_2fa_remember", "pending_2fa_next", "pending_2fa_at"):
            session.pop(key, None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        key = throttle_key("second-factor", str(user.id))
        verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
        if not verdict.allowed:
            minutes = max(1, round(verdict.retry_after / 60))
            return render_template("auth/login_2fa.html", form=form, throttled_minutes=minutes), 429
        now = utcnow()
        if not activity.check_second_factor(user, form.code.data, request_client(), current_app.config, now):
            throttle_hit(SECOND_FACTOR_LIMIT, key)
            db.session.rollback()
            activity.record_event(user, "auth:login:failure", request_client(), now)
            db.session.commit()
            form.code.errors.append(_("That code is not right, or was already used."))
            return render_template("auth/login_2fa.html", form=form), 200
        remember, next_url = session.get("pending_2fa_remember", False), session.get("pending_2fa_next")
        reopened = user.closed_at is not None
        if reopened:
            if not services.can_reopen(user, current_app.config, now):
                abort(403)
            services.reopen_account(user)
        _sign_in(user, remember)
        db.session.commit()
        if reopened:
            _welcome_back(user)
        current_app.logger.info("auth:login:success user=%s", user.id)
        return redirect(url_for("auth.login", check=1, next=safe_next(next_url, url_for("account.show_dashboard"))),
                        code=303)
    return render_template("auth/login_2fa.html", form=form)


@bp.route("/reauth", methods=["GET", "POST"])
@customer
def reauthenticate():
    """Confirm the password (and second factor) before a sensitive action, then go back."""
    next_url = safe_next(request.values.get("next"), url_for("account.show_security"))
    form = ReauthForm()
    if form.validate_on_submit():
        key = throttle_key("reauth", str(current_user.id))
        verdict = throttle_check(SECOND_FACTOR_LIMIT, key)
        if not verdict.allowed:
            minutes = max(1, round(verdict.retry_after / 60))
            return render_template("auth/reauth.html", form=form, next_url=next_url, throttled_minutes=minutes,
                                   action_text=action_text(session.get("reauth_for"))), 429
        now = utcnow()
        password_ok = verify_password(current_user.password_hash, form.password.data)[0]
        factor_ok = not current_user.has_2fa or (password_ok and activity.check_second_factor(
            current_user, form.code.data or "", request_client(), current_app.config, now))
        if password_ok and factor_ok:
            services.mark_reauthenticated(g.get("user_session"), now)
            db.session.commit()
            session.pop("reauth_for", None)
            return redirect(next_url, code=303)
        throttle_hit(SECOND_FACTOR_LIMIT, key)
        db.session.rollback()
        target = form.code if password_ok else form.password
        target.errors.append(_("That code is not right, or was already used.") if password_ok
                             else _("Your password is not right."))
    return render_template("auth/reauth.html", form=form, next_url=next_url,
                           action_text=action_text(session.get("reauth_for")))


@bp.post("/logout")
@public
def logout():
    """Sign out: end this session row and forget the browser's session."""
    row = g.get("user_session")
    if row is not None:
        services.end_session(row, "logout", utcnow())
        activity.record_event(row.user, "auth:logout", request_client(), utcnow())
        db.session.commit()
        current_app.logger.info("auth:logout user=%s", row.user_id)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("pages.show_home"), code=303)


# --- password reset ---------------------------------------------------------------------------


@bp.route("/reset-password", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"])
def reset_request():
    """Ask for a reset link. The answer is the same whether or not the address has an account."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, current_app.config, utcnow())
        db.session.commit()
        return render_template("auth/reset_sent.html", email=form.email.data.strip())
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password from an e-mailed link (single use, one hour)."""
    found = services.find_token(token, services.RESET_PASSWORD, utcnow())
    if found is None:
        return render_template("auth/reset_failed.html"), 400
    form = ResetPasswordForm(email=found.user.email)
    if form.validate_on_submit():
        user = services.reset_password(token, form.password.data, current_app.config, utcnow(), request.remote_addr)
        if user is not None:
            activity.record_event(user, "auth:password:reset", request_client(), utcnow())
        db.session.commit()
        current_app.logger.info("auth:password:reset user=%s", user.id if user else None)
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        flash(_("Your password is changed. Please sign in with the new one."), "success")
        return redirect(url_for("auth.login", next=None) if user else url_for("auth.reset_request"), code=303)
    return render_template("auth/reset_password.html", form=form, token=token)
