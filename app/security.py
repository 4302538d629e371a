"""Security headers, the CSP nonce, safe redirects and route access classes."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g, request

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
        "form-action": "'self'",
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
    return response


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


def public(view):
    """Mark a view as reachable by anyone (checked by tests/test_access.py)."""
    setattr(view, ACCESS_ATTR, "public")
    return view


def register_security(app: Flask) -> None:
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
