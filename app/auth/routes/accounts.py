"""Account views that need no session: registration, e-mail verification and password reset."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.auth import activity, services
from app.auth.blueprint import bp
from app.auth.forms import RegistrationForm, ResetPasswordForm, ResetRequestForm
from app.auth.guards import request_client
from app.auth.models import SecurityEventTag, TokenPurpose
from app.consent import pipl
from app.consent.models import SeparateConsentKind
from app.extensions import limiter
from app.i18n import select_locale
from app.security import customer, public
from app.timeutil import utcnow

# --- registration and verification ------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register():
    """Create an account. Known and new addresses get the same answer (no enumeration)."""
    if current_user.is_authenticated:
        return redirect(url_for("account.show_dashboard"))
    form, locale = RegistrationForm(), str(select_locale())
    pipl_asked = pipl.applies(locale)
    guardian = pipl_asked and pipl.needs_guardian_question(current_app.config)
    if pipl_asked:
        form.ask_pipl(guardian)
    if form.validate_on_submit():
        try:
            made = services.register(form.email.data, form.password.data, form.nickname.data, locale,
                                     current_app.config, utcnow())
        except services.InvalidEmail:
            form.email.errors.append(_("Enter a valid e-mail address, like name@example.com."))
        else:
            if made.user is not None and pipl_asked:  # each consent its own event
                kinds = [SeparateConsentKind.CROSS_BORDER, *([SeparateConsentKind.GUARDIAN] if guardian else [])]
                pipl.record(made.user.id, kinds, locale, current_app.config, utcnow())
            return render_template("auth/check_inbox.html", email=services.normalise_email(form.email.data))
    return render_template("auth/register.html", form=form, pipl_asked=pipl_asked, guardian=guardian,
                           transfer=pipl.transfer_facts(current_app.config) if pipl_asked else None)


@bp.get("/verify-email/<token>")
@public
def verify_email(token: str):
    """Confirm an address from the e-mailed link (sign-up or e-mail change)."""
    user, changed = services.confirm_email_token(token, current_app.config, utcnow())
    if user is None:
        return render_template("auth/verify_failed.html"), 400
    if changed:
        activity.record_event(user, SecurityEventTag.EMAIL_CHANGE, request_client(), utcnow())
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
    if verdict.allowed:
        flash(_("We sent a new link to %(email)s.", email=current_user.email), "success")
    else:
        minutes = max(1, round(verdict.retry_after / 60))
        flash(_("You asked for several links already. Please wait %(minutes)s minutes and check your spam "
                "folder.", minutes=minutes), "warning")
    return redirect(url_for("account.show_dashboard"))


# --- password reset ---------------------------------------------------------------------------


@bp.route("/reset-password", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["RESET_RATE_LIMIT"], methods=["POST"])
def reset_request():
    """Ask for a reset link. The answer is the same whether or not the address has an account."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, current_app.config, utcnow())
        return render_template("auth/reset_sent.html", email=form.email.data.strip())
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    """Choose a new password from an e-mailed link (single use, one hour)."""
    found = services.find_token(token, TokenPurpose.RESET_PASSWORD, utcnow())
    if found is None:
        return render_template("auth/reset_failed.html"), 400
    form = ResetPasswordForm(email=found.user.email)
    if form.validate_on_submit():
        user = services.reset_password(token, form.password.data, current_app.config, utcnow(), request.remote_addr)
        if user is not None:
            activity.record_event(user, SecurityEventTag.PASSWORD_RESET, request_client(), utcnow())
        current_app.logger.info("auth:password:reset user=%s", user.id if user else None)
        if current_user.is_authenticated:
            logout_user()
        session.clear()
        flash(_("Your password is changed. Please sign in with the new one."), "success")
        return redirect(url_for("auth.login", next=None) if user else url_for("auth.reset_request"), code=303)
    return render_template("auth/reset_password.html", form=form, token=token)
