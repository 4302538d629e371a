"""Security headers, the CSP nonce, safe redirects and route access classes."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms import ValidationError

ACCESS_ATTR = "access_class"

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer",
        "microphone", "payment", "usb", "browsing-topics",
    )
)


def csp_nonce() -> str:
    """The nonce for inline ``<script nonce>`` tags in this response, made once per request."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        # Checkout redirects the browser from our form to Stripe's page when Stripe is configured.
        "form-action": "'self' https://checkout.stripe.com"
        if current_app.extensions["payment_gateway"].name == "stripe" else "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def set_security_headers(response):
    """Add the security headers every response carries."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if response.mimetype == "text/html":
        # The page depends on the language cookie and header, and later on the session.
        response.vary.update(("Cookie", "Accept-Language"))
    if "no-store" not in headers.get("Cache-Control", "") and _private(request):
        headers["Cache-Control"] = "no-store"  # no copy in a shared cache or the browser's history
    return response


PRIVATE_PREFIXES = ("/api/", "/account", "/staff", "/billing", "/login", "/reauth", "/reset-password",
                    "/verify-email", "/contact/thread", "/privacy/request")


def _private(req) -> bool:
    """A response for one person: every API answer, every page of a signed-in visitor (whose
    user was loaded to render it), and the portal's own paths."""
    if req.path.startswith(PRIVATE_PREFIXES):
        return True
    user = getattr(g, "_login_user", None)
    return bool(user is not None and user.is_authenticated)


def is_safe_next(target: str | None) -> bool:
    """True for a same-site relative path such as ``/account?tab=keys``.

    Refuses absolute and scheme-relative URLs (``//evil.example``), backslash tricks
    (``/\\evil.example``) and control characters, which browsers may strip or reinterpret.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    return target if is_safe_next(target) else default


def hash_token(token: str) -> str:
    """SHA-256 of a random token: what we store instead of session ids and e-mailed tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


# --- CSRF -------------------------------------------------------------------------------
#
# Signed-in visitors (and anyone who already has a session) get Flask-WTF's session-bound
# token. A visitor without a session gets a stateless signed token instead, so that showing a
# public form (login, register, contact) sets no cookie; such a token is only accepted together
# with a same-origin Origin / Sec-Fetch-Site / Referer, which is what actually stops a
# cross-site post. CSRF is enforced for every unsafe request before the view runs.

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


# --- Route access classes -----------------------------------------------------------------


def public(view):
    """Mark a view as reachable by anyone (checked by tests/test_access.py)."""
    setattr(view, ACCESS_ATTR, "public")
    return view


def api_key(view):
    """A view authenticated by an API key in the Authorization header (the /api/v1 gateway)."""
    setattr(view, ACCESS_ATTR, "api")
    return view


def customer(view):
    """A view for signed-in users: anonymous visitors are sent to the sign-in page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return view(*args, **kwargs)

    setattr(wrapper, ACCESS_ATTR, "customer")
    return wrapper


# --- Logs ---------------------------------------------------------------------------------

_SECRET_PATH = re.compile(r"(/(?:verify-email|reset-password|contact/thread|privacy/request/status)/)[^\s/?\"]+")
_API_KEY = re.compile(r"twt_[A-Za-z0-9_-]{8,}")


class RedactSecretsFilter(logging.Filter):
    """Hide e-mailed tokens in request paths, and API keys sent (wrongly) in query strings, in the
    lines the web server logs (werkzeug, gunicorn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _API_KEY.sub("twt_[redacted]", _SECRET_PATH.sub(r"\1[redacted]", message))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def register_log_redaction() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())


def staff(*roles: str):
    """A staff view; ``roles`` lists who may open it (any staff role when empty).

    The staff blueprint's guard has already required a signed-in staff member with 2FA; this
    adds the role check and marks the view for tests/test_access.py.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, "staff")
        wrapper.staff_roles = roles
        return wrapper

    return decorate


def register_security(app: Flask) -> None:
    register_log_redaction()
    app.before_request(enforce_csrf)
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["csrf_token"] = portal_csrf_token
