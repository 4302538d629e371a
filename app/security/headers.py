"""The headers every response carries: a CSP with a per-request nonce, and no-store for private pages."""

from __future__ import annotations

import secrets

from flask import current_app, g, request

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


# Anything but a page (JSON, problem documents, CSV, files) runs no script and loads nothing: the
# strictest policy, the same string every time (no nonce to make, no directives to join).
NON_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def set_security_headers(response):
    """Add the security headers every response carries."""
    headers = response.headers
    html = response.mimetype == "text/html"
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce()) if html else NON_HTML_POLICY
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
