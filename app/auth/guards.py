"""View decorators that other domains use for sensitive actions."""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from app.auth import services
from app.security import safe_next
from app.timeutil import utcnow


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
        else:
            referrer = request.referrer or ""
            back = referrer[len(request.host_url) - 1:] if referrer.startswith(request.host_url) else None
        flash(_("Please confirm it is you to continue."), "info")
        return redirect(url_for("auth.reauthenticate", next=safe_next(back, url_for("auth.show_security"))))

    return wrapper
