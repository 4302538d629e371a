"""Passkeys on the security page: add one (after confirming it is you), rename, remove."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.account.blueprint import bp, no_store, recovery_codes_page
from app.auth import activity, passkeys, services, twofactor
from app.auth.forms import ActionForm, AddPasskeyForm, RenamePasskeyForm
from app.auth.guards import recent_auth_required, request_client
from app.auth.models import SecurityEventTag, SessionEndReason
from app.security import customer
from app.timeutil import utcnow

REFUSED = {
    "expired": _l("That took too long. Please try again."),
    "duplicate": _l("That passkey is already registered."),
    "too_many": _l("You have the most passkeys an account can keep. Remove one first."),
}
NOT_ADDED = _l("The passkey could not be added. Please try again.")


def _render_passkeys(form, status: int = 200):
    rp = passkeys.relying_party(current_app.config)
    options = passkeys.registration_options(current_user, current_app.config) if rp.available else None
    html = render_template("account/passkeys.html", form=form, passkeys=passkeys.user_passkeys(current_user),
                           options=options, origin=rp.origin, available=rp.available, action_form=ActionForm(),
                           rename_form=RenamePasskeyForm(formdata=None), limit=passkeys.MAX_PASSKEYS)
    return no_store(current_app.make_response((html, status)))


@bp.get("/account/security/passkeys")
@customer
@recent_auth_required
def show_passkeys():
    """The account's passkeys, with a form to add one."""
    return _render_passkeys(AddPasskeyForm(formdata=None))


@bp.post("/account/security/passkeys")
@customer
@recent_auth_required
def add_passkey():
    """Keep the passkey the browser just made. The first second factor of an account also ends
    its other sessions and gives recovery codes, shown once, as turning on the app does; with a
    second factor on already, the existing recovery codes stay valid."""
    form = AddPasskeyForm()
    if form.validate_on_submit():
        now = utcnow()
        try:
            added = passkeys.register(current_user, form.credential.data, form.name.data, current_app.config, now)
        except passkeys.PasskeyRefused as refused:
            form.credential.errors.append(str(REFUSED.get(refused.reason, NOT_ADDED)))
        else:
            passkey = added.passkey
            activity.record_event(current_user, SecurityEventTag.PASSKEY_ADD, request_client(), now)
            activity.notify_passkey_changed(current_user, passkey.name, True, current_app.config)
            flash(_("The passkey “%(name)s” is added.", name=passkey.name), "success")
            if added.first:  # recovery codes come with the first second factor; a later one keeps them
                row = g.get("user_session")
                services.end_sessions(current_user, SessionEndReason.TWO_FACTOR_ENABLED, now,
                                      keep_id=row.id if row else None)
                codes = twofactor.new_recovery_codes(current_user, now)
                return recovery_codes_page(codes)
            return redirect(url_for("account.show_passkeys"), code=303)
    return _render_passkeys(form, 400)


@bp.post("/account/security/passkeys/<int:passkey_id>/rename")
@customer
def rename_passkey(passkey_id: int):
    """Give a passkey a name that says where it lives."""
    passkey = passkeys.find_passkey(current_user, passkey_id)
    form = RenamePasskeyForm()
    if passkey is None:
        flash(_("That passkey is no longer on your account."), "info")
    elif form.validate_on_submit() and passkeys.rename(passkey, form.name.data):
        flash(_("The passkey is renamed “%(name)s”.", name=passkey.name), "success")
    else:
        flash(_("Enter a name of up to %(max)s characters.", max=passkeys.NAME_LENGTH), "warning")
    return redirect(url_for("account.show_passkeys"), code=303)


@bp.post("/account/security/passkeys/<int:passkey_id>/remove")
@customer
@recent_auth_required
def remove_passkey(passkey_id: int):
    """Remove a passkey after a confirmation step; the last second factor turns 2FA off."""
    passkey = passkeys.find_passkey(current_user, passkey_id)
    if passkey is None or not ActionForm().validate_on_submit():
        flash(_("That passkey is no longer on your account."), "info")
        return redirect(url_for("account.show_passkeys"), code=303)
    last = not current_user.has_totp and len(passkeys.user_passkeys(current_user)) == 1
    if request.form.get("confirmed") != "yes":
        return render_template(
            "account/confirm.html", title=_("Remove the passkey “%(name)s”?", name=passkey.name),
            consequence=_("It is your last second factor: two-factor authentication turns off and your recovery "
                          "codes stop working.") if last else _("It no longer signs you in; your other second "
                                                                "factors keep working."),
            button=_("Remove the passkey"), cancel_url=url_for("account.show_passkeys"), fields={},
            action_url=url_for("account.remove_passkey", passkey_id=passkey.id))
    name = passkey.name
    if passkeys.remove(current_user, passkey):
        twofactor.remove_recovery_codes(current_user)
    activity.record_event(current_user, SecurityEventTag.PASSKEY_REMOVE, request_client(), utcnow())
    activity.notify_passkey_changed(current_user, name, False, current_app.config)
    flash(_("The passkey “%(name)s” is removed.", name=name), "success")
    return redirect(url_for("account.show_passkeys"), code=303)
