"""The sign-in pages as both the password views and the passkey views render them: the login
page with its passkey button, the second step, and the confirmation page; and what a refused
sign-in says."""

from __future__ import annotations

from flask import render_template, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth import passkeys
from app.auth.blueprint import passkey_prompt
from app.auth.guards import action_text
from app.auth.signin import Step

SECOND_FACTOR_LIMIT = "5 per 5 minutes"

REFUSALS = {  # what a refused sign-in says, and its status
    Step.WRONG: (_l("The e-mail address or password is not right."), 200),
    Step.SUSPENDED: (_l("This account is suspended. Write to us to find out why."), 403),
    Step.BEING_ERASED: (_l("This account is closed and is being erased. Write to us if this is a mistake."), 200),
}


def render_login(form, next_url: str, status: int = 200, **context):
    """The sign-in page: the password form, and the passkey button where the browser has them."""
    prompt = passkey_prompt(passkeys.SIGN_IN)
    return render_template("auth/login.html", form=form, next_url=next_url, **prompt, **context), status


def render_second_factor(user, form, status: int = 200, **context):
    prompt = passkey_prompt(passkeys.SECOND_FACTOR, user)
    return render_template("auth/login_2fa.html", form=form, user_has_totp=user.has_totp, **prompt,
                           **context), status


def render_reauth(form, next_url: str, status: int = 200, **context):
    prompt = passkey_prompt(passkeys.REAUTH, current_user)
    return render_template("auth/reauth.html", form=form, next_url=next_url,
                           action_text=action_text(session.get("reauth_for")), **prompt, **context), status
