"""The account overview and profile: dashboard, nickname and language, password and e-mail."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app.account.blueprint import bp
from app.auth import activity, services
from app.auth.forms import ActionForm, ChangeEmailForm, ChangePasswordForm, ProfileForm
from app.auth.guards import recent_auth_required, request_client
from app.auth.models import SecurityEventTag
from app.billing import services as billing_services
from app.consent import pipl
from app.i18n import LANG_COOKIE, normalise_locale
from app.keys import services as key_services
from app.organisations.access import current_membership, member
from app.organisations.models import Permission
from app.security import customer
from app.timeutil import utcnow
from app.usage import services as usage_services


@bp.get("/account")
@member(Permission.VIEW)
def show_dashboard():
    """The overview of the organisation worked in: its balance, this month's calls and its keys at a
    glance, the next steps, and the person's own verification and consents."""
    now = utcnow()
    membership = current_membership()
    organisation = membership.organisation
    keys = key_services.active_keys(organisation, now)
    may_buy, may_manage_keys = membership.may(Permission.MANAGE_BILLING), membership.may(Permission.MANAGE_KEYS)
    steps = {"confirm": not current_user.is_verified, "key": not keys and may_manage_keys,
             "call": not usage_services.has_calls(organisation.id),
             "buy": not billing_services.has_paid_order(organisation.id) and may_buy}
    return render_template("account/dashboard.html", action_form=ActionForm(), organisation=organisation,
                           keys=keys, steps=steps, may_buy=may_buy, may_manage_keys=may_manage_keys,
                           transfer_missing=pipl.needs_transfer_consent(current_user, str(get_locale())),
                           month=usage_services.month_totals(organisation.id, now.date()),
                           packs=current_app.config["PRICING"].credit_packs)


@bp.route("/account/profile", methods=["GET", "POST"])
@customer
def edit_profile():
    """Correct one's data: nickname and language (password and e-mail have their own forms)."""
    form = _profile_form()
    if form.validate_on_submit():
        services.update_profile(current_user, form.nickname.data, normalise_locale(form.locale.data))
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
            activity.record_event(current_user, SecurityEventTag.PASSWORD_CHANGE, request_client(), utcnow())
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
                flash(_("We sent a confirmation link to %(email)s. Your address changes when you open it.",
                        email=form.new_email.data.strip()), "success")
                return redirect(url_for("account.edit_profile"), code=303)
            form.current_password.errors.append(_("Your current password is not right."))
    return _render_profile(400, email_form=form)

