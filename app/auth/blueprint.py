"""The auth blueprint and the glue between Flask-Login and our session rows: loading the signed-in
user on every request, and starting a browser session once a sign-in (by any path) succeeded.
The views in app/auth/routes/ register on it."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.auth import activity, passkeys, services
from app.auth.forms import PasskeyForm, PasskeyReauthForm
from app.auth.guards import request_client
from app.auth.models import SecurityEventTag, User
from app.consent import services as consent_services
from app.extensions import db, login_manager
from app.security import safe_next
from app.timeutil import utcnow

bp = Blueprint("auth", __name__)

PENDING_2FA_SECONDS = 300
PENDING_2FA_KEYS = ("pending_2fa_user", "pending_2fa_remember", "pending_2fa_next", "pending_2fa_at")


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user, when the browser's session id matches an active session row."""
    loaded = services.load_session(session.get("sid"), current_app.config, utcnow())
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
    """Load the user before the view runs (its session bookkeeping commits with the request's work)."""
    if session.get("sid"):
        current_user._get_current_object()


def start_browser_session(user, remember: bool) -> None:
    """Start a fresh session: the old session data (and any fixed id) is discarded."""
    now, client = utcnow(), request_client()
    if activity.is_new_device(user, client, current_app.config, now):
        activity.notify_new_device(user, client, current_app.config, now)
    secret = services.start_session(user, client.ip, client.user_agent, remember, current_app.config, now)
    activity.record_event(user, SecurityEventTag.LOGIN_SUCCESS, client, now)
    decision = g.get("consent")
    if decision is not None:  # the cookie choice made in this browser is now the account's too
        consent_services.link_to_account(decision.consent_id, user.id)
    session.clear()
    session["sid"] = secret
    session.permanent = remember
    login_user(user)


def finish_sign_in(user, remember: bool, next_url: str | None, reopened: bool):
    """Sign ``user`` in and come back through the cookie check (if the browser refused
    the session cookie, the login page says so)."""
    start_browser_session(user, remember)
    current_app.logger.info("auth:login:success user=%s", user.id)
    if reopened:
        flash(_("Welcome back: your account is open again, with its credits, orders and settings. Your old API "
                "keys stay revoked; make new ones."), "success")
    target = safe_next(next_url, url_for("account.show_dashboard"))
    return redirect(url_for("auth.login", check=1, next=target), code=303)


def pending_sign_in():
    """The account waiting for its second factor in this browser (None when there is none, or it
    waited longer than five minutes: then the visitor starts over)."""
    user_id, started = session.get("pending_2fa_user"), session.get("pending_2fa_at", 0)
    if not user_id:
        return None
    user = db.session.get(User, user_id)
    if user is None or time.time() - started > PENDING_2FA_SECONDS:
        for key in PENDING_2FA_KEYS:
            session.pop(key, None)
        flash(_("Please sign in again."), "info")
        return None
    return user


def finish_pending_sign_in(user):
    """The second factor passed: reopen a closed account within its grace period, and sign in."""
    remember, next_url = session.get("pending_2fa_remember", False), session.get("pending_2fa_next")
    reopened = user.closed_at is not None
    if reopened:
        if not services.can_reopen(user, current_app.config, utcnow()):
            abort(403)
        services.reopen_account(user)
    return finish_sign_in(user, remember, next_url, reopened)


def passkey_prompt(purpose: str, user=None) -> dict:
    """What a page needs to offer a passkey: the options for the browser (None when this site
    cannot have passkeys, or ``user`` has none for a second factor or a confirmation) and the
    form the page's script fills in."""
    rp = passkeys.relying_party(current_app.config)
    offer = rp.available and (user is None or user.has_passkey)
    answer = PasskeyReauthForm if purpose == passkeys.REAUTH else PasskeyForm
    return {"passkey_options": passkeys.authentication_options(purpose, user, current_app.config) if offer else None,
            "passkey_answer": answer(formdata=None), "passkey_origin": rp.origin}
