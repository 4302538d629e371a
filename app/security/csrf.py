"""CSRF.

Signed-in visitors (and anyone who already has a session) get Flask-WTF's session-bound
token. A visitor without a session gets a stateless signed token instead, so that showing a
public form (login, register, contact) sets no cookie; such a token is only accepted together
with a same-origin Origin / Sec-Fetch-Site / Referer, which is what actually stops a
cross-site post. CSRF is enforced for every unsafe request before the view runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms import ValidationError

ANON_TOKEN_PREFIX = "anon."  # noqa: S105 - a marker, not a secret
ANON_TOKEN_MAX_AGE = 2 * 3600
CSRF_EXEMPT_ATTR = "csrf_exempt"


def _anon_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="anonymous-csrf")


def session_established() -> bool:
    """True when the visitor already carries a session cookie worth binding a token to."""
    return bool(session.get("sid") or session.get("csrf_token"))


def portal_csrf_token() -> str:
    """The CSRF token for a form on this page (see the comment above)."""
    if session_established():
        return generate_csrf()
    return ANON_TOKEN_PREFIX + _anon_serializer().dumps("csrf")


def request_is_same_origin() -> bool:
    """True when the browser says the request comes from one of our own pages."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    own = request.host_url.rstrip("/")
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return False


def check_csrf_token(token: str | None) -> None:
    """Raise CSRFError unless ``token`` is valid for this request."""
    if token and token.startswith(ANON_TOKEN_PREFIX):
        if session.get("sid"):
            raise CSRFError("A signed-in session needs its own form token.")
        if not request_is_same_origin():
            raise CSRFError("The form was not sent from this site.")
        try:
            _anon_serializer().loads(token[len(ANON_TOKEN_PREFIX):], max_age=ANON_TOKEN_MAX_AGE)
        except BadData as exc:
            raise CSRFError("The form token is invalid or has expired.") from exc
        return
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0] if exc.args else "The CSRF token is invalid.") from exc


def csrf_exempt(view):
    """Exempt a view that authenticates requests another way (webhook signatures, API keys)."""
    setattr(view, CSRF_EXEMPT_ATTR, True)
    return view


def enforce_csrf() -> None:
    """Before every unsafe request: refuse it without a valid CSRF token."""
    if request.method in {"GET", "HEAD", "OPTIONS", "TRACE"} or not current_app.config.get(
        "WTF_CSRF_ENABLED", True
    ):
        return
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None or getattr(view, CSRF_EXEMPT_ATTR, False):
        return
    token = request.form.get("csrf_token") or next(
        (value for key, value in request.form.items() if key.endswith("-csrf_token")), None
    ) or request.headers.get("X-CSRFToken")
    check_csrf_token(token)
    g.csrf_checked = True
