"""API key views on /account/keys."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import activity
from app.auth.forms import ActionForm
from app.auth.guards import recent_auth_required, request_client, take_pending_form
from app.auth.models import SecurityEventTag
from app.keys import services
from app.keys.forms import CreateKeyForm, EditKeyForm, RotateKeyForm
from app.organisations.access import current_membership, current_organisation, member
from app.organisations.models import Permission
from app.pricing import get_pricing
from app.timeutil import utcnow

bp = Blueprint("keys", __name__)


def _show_secret(key, secret):
    """The one time a key's secret is shown: never cached."""
    response = make_response(render_template("keys/created.html", key=key, secret=secret))
    response.headers["Cache-Control"] = "no-store"
    return response


def _own_key_or_404(key_id: int):
    """One of the current organisation's keys (another organisation's is not found: 404)."""
    try:
        return services.get_own_key(current_organisation(), key_id)
    except services.KeyNotFound:
        abort(404)


def _render_list(form=None, status=200):
    if form is None:  # what was typed before a re-authentication, shown again
        typed = take_pending_form("keys.create_key") or {}
        form = CreateKeyForm(formdata=None, data={k: typed[k] for k in ("name", "rate_limit") if typed.get(k)})
    organisation = current_organisation()
    return render_template("keys/list.html", organisation=organisation, keys=services.all_keys(organisation),
                           makers=services.makers(organisation), now=utcnow(),
                           may_manage=current_membership().may(Permission.MANAGE_KEYS),
                           form=form, rotate_form=RotateKeyForm(formdata=None),
                           action_form=ActionForm(), max_keys=get_pricing().max_keys,
                           account_limit=get_pricing().rate_limit_per_minute), status


@bp.get("/account/keys")
@member(Permission.VIEW)
def list_keys():
    """The organisation's keys with their prefix, maker, dates and status (every member sees them;
    the controls to change them are shown to members who may)."""
    return _render_list()


@bp.post("/account/keys")
@member(Permission.MANAGE_KEYS)
@recent_auth_required
def create_key():
    """Create a key (verified accounts only) and show its secret once."""
    if not current_user.is_verified:
        flash(_("Confirm your e-mail address before creating API keys."), "warning")
        return redirect(url_for("keys.list_keys"), code=303)
    form = CreateKeyForm()
    if not form.validate_on_submit():
        return _render_list(form, 400)
    try:
        key, secret = services.create_key(current_organisation(), current_user, form.name.data, form.rate_limit.data,
                                          get_pricing().max_keys, current_app.config, utcnow(), **form.controls())
    except services.KeyLimitReached:
        form.name.errors.append(_("You already have %(count)s active keys, the most an organisation can have. "
                                  "Revoke one first.", count=get_pricing().max_keys))
        return _render_list(form, 400)
    activity.record_event(current_user, SecurityEventTag.API_KEY_CREATE, request_client(), utcnow())
    return _show_secret(key, secret)


@bp.route("/account/keys/<int:key_id>", methods=["GET", "POST"])
@member(Permission.MANAGE_KEYS)
def edit_key(key_id: int):
    """Rename a key or change what it may do (endpoint groups, addresses, expiry); the secret stays."""
    key = _own_key_or_404(key_id)
    if not key.editable(utcnow()):
        abort(404)
    form = EditKeyForm() if request.method == "POST" else EditKeyForm(formdata=None, data=_controls_data(key))
    if request.method == "POST" and form.validate_on_submit():
        services.update_key(current_organisation(), key_id, form.name.data, **form.controls(), actor=current_user,
                            now=utcnow())
        flash(_("Key “%(name)s” saved; its next call follows the new settings. The secret is unchanged.",
                name=key.name), "success")
        return redirect(url_for("keys.list_keys"), code=303)
    return render_template("keys/edit.html", key=key, form=form), 400 if form.errors else 200


def _controls_data(key):
    """The form's starting values: the key as it is."""
    return {"name": key.name, "access": "some" if key.scopes else "all", "scopes": key.scope_list,
            "allowed_ips": "\n".join(key.network_list),
            "valid_until": key.valid_until.date() if key.valid_until else None,
            "daily_cap": key.daily_cap, "monthly_cap": key.monthly_cap}


@bp.post("/account/keys/<int:key_id>/revoke")
@member(Permission.MANAGE_KEYS)
def revoke_key(key_id: int):
    """Revoke a key after a confirmation step (the same form posted with confirmed=yes): its next
    request is refused."""
    key = _own_key_or_404(key_id)
    if request.form.get("confirmed") != "yes":
        return render_template(
            "account/confirm.html", title=_("Revoke the key “%(name)s”?", name=key.name),
            consequence=_("Calls with %(prefix)s… get 401 at once, everywhere it is used. This cannot be undone; "
                          "you can make a new key.", prefix=key.prefix),
            button=_("Revoke the key"), action_url=url_for("keys.revoke_key", key_id=key.id),
            cancel_url=url_for("keys.list_keys"), fields={})
    services.revoke_key(current_organisation(), key_id, utcnow(), current_user)
    activity.record_event(current_user, SecurityEventTag.API_KEY_REVOKE, request_client(), utcnow())
    flash(_("Key “%(name)s” (%(prefix)s…) revoked; calls with it now get 401.", name=key.name, prefix=key.prefix),
          "success")
    return redirect(url_for("keys.list_keys"), code=303)


@bp.post("/account/keys/<int:key_id>/rotate")
@member(Permission.MANAGE_KEYS)
@recent_auth_required
def rotate_key(key_id: int):
    """Replace a key; the old one keeps working for the chosen grace period (7 days at most)."""
    _own_key_or_404(key_id)
    form = RotateKeyForm()
    if not form.validate_on_submit():
        return _render_list(status=400)
    try:
        key, secret = services.rotate_key(current_organisation(), current_user, key_id, form.grace_days.data,
                                          get_pricing().max_keys, current_app.config, utcnow())
    except services.KeyNotFound:
        flash(_("That key does not exist or no longer works."), "error")
        return redirect(url_for("keys.list_keys"), code=303)
    except services.KeyAlreadyRotated:
        flash(_("That key was replaced already; it works until its grace period ends. Use its new key."),
              "error")
        return redirect(url_for("keys.list_keys"), code=303)
    except services.KeyLimitReached:
        flash(_("You have %(count)s working keys, the most an organisation can have, and a grace period keeps one "
                "more working. Replace the key with no grace period, or revoke a key first.",
                count=get_pricing().max_keys), "error")
        return redirect(url_for("keys.list_keys"), code=303)
    activity.record_event(current_user, SecurityEventTag.API_KEY_CREATE, request_client(), utcnow())
    return _show_secret(key, secret)
