"""View decorators that other domains use for sensitive actions."""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth import activity, services
from app.security import safe_next
from app.timeutil import utcnow

# What the re-authentication page says the password is for, by the action that asked.
ACTION_TEXTS = {
    "rights.close_account": _l("To close your account, confirm it is you."),
    "rights.download_export": _l("To download everything we hold about you, confirm it is you."),
    "keys.create_key": _l("To create an API key, confirm it is you."),
    "keys.rotate_key": _l("To replace an API key, confirm it is you."),
    "account.change_email": _l("To change your e-mail address, confirm it is you."),
}
SECRET_FIELDS = {"csrf_token", "password", "current_password", "code", "password-current_password",
                 "password-password", "email-password"}


def action_text(endpoint: str | None):
    """The sentence for the re-authentication page (None: the general one about protection)."""
    return ACTION_TEXTS.get(endpoint or "")


def take_pending_form(endpoint: str) -> dict | None:
    """What was typed into the form whose sending asked for re-authentication, once, so the page
    shows it again instead of throwing it away (never a password or a code)."""
    pending = session.get("reauth_pending")
    if not isinstance(pending, dict) or pending.get("endpoint") != endpoint:
        return None
    session.pop("reauth_pending", None)
    return pending.get("form") or {}


def request_client() -> activity.Client:
    """Where the current request comes from, as security events record it."""
    return activity.Client(request.remote_addr, request.user_agent.string)


def recent_auth_required(view):
    """Ask for the password (and second factor) again unless entered in the last few minutes.

    A GET returns to the same page afterwards; a POST returns to the page the form was on, where
    the visitor sends it again.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        if services.recently_authenticated(g.get("user_session"), current_app.config, utcnow()):
            return view(*args, **kwargs)
        if request.method == "GET":
            back = request.full_path.rstrip("?")
            session.pop("reauth_pending", None)
        else:
            referrer = request.referrer or ""
            back = referrer[len(request.host_url) - 1:] if referrer.startswith(request.host_url) else None
            typed = {k: v[:500] for k, v in list(request.form.items())[:20] if k not in SECRET_FIELDS}
            session["reauth_pending"] = {"endpoint": request.endpoint, "form": typed}
        session["reauth_for"] = request.endpoint
        flash(_("Please confirm it is you to continue."), "info")
        return redirect(url_for("auth.reauthenticate", next=safe_next(back, url_for("account.show_security"))))

    return wrapper
