"""The headers every response carries: a CSP with a per-request nonce, and no-store for private pages."""

from __future__ import annotations

import secrets

from flask import g, request

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


def content_security_policy(nonce: str, form_action: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        # Checkout redirects the browser from our form to the payment page's origin, when it has one.
        "form-action": form_action,
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


# Anything but a page (JSON, problem documents, CSV, files) runs no script and loads nothing: the
# strictest policy, the same string every time (no nonce to make, no directives to join).
NON_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def form_action(origins: tuple[str, ...] = ()) -> str:
    """The CSP's form-action: this site and the ``origins`` a form may send the browser to."""
    return " ".join(("'self'", *origins))


def set_security_headers(response, form_action: str = "'self'"):
    """Add the security headers every response carries (``form_action``: see ``form_action()``)."""
    headers = response.headers
    html = response.mimetype == "text/html"
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), form_action) if html \
        else NON_HTML_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if html:
        # The page depends on the language cookie and header, and later on the session.
        response.vary.update(("Cookie", "Accept-Language"))
    if "no-store" not in headers.get("Cache-Control", "") and _private(request):
        headers["Cache-Control"] = "no-store"  # no copy in a shared cache or the browser's history
    return response


PRIVATE_PREFIXES = ("/api/", "/v1/", "/account", "/staff", "/billing", "/login", "/reauth", "/reset-password",
                    "/verify-email", "/contact/thread", "/privacy/request")


def _private(req) -> bool:
    """A response for one person: every API answer, every page of a signed-in visitor (whose
    user was loaded to render it), and the portal's own paths."""
    if req.path.startswith(PRIVATE_PREFIXES):
        return True
    user = getattr(g, "_login_user", None)
    return bool(user is not None and user.is_authenticated)
