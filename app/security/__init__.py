"""Security by concern: response headers and the CSP (``headers``), CSRF (``csrf``), route access
classes (``access``), safe redirects (``redirects``), tokens (``tokens``) and log redaction
(``logs``). The names most modules use are importable from here; ``register_security`` wires
them into the application."""

from __future__ import annotations

from functools import partial

from flask import Flask

from app.security.access import ACCESS_ATTR, agent, api_key, customer, public, staff
from app.security.csrf import (
    check_csrf_token,
    csrf_exempt,
    enforce_csrf,
    portal_csrf_token,
    request_is_same_origin,
)
from app.security.headers import csp_nonce, form_action, set_security_headers
from app.security.logs import RedactSecretsFilter, register_log_redaction
from app.security.redirects import is_safe_next, safe_next
from app.security.tokens import hash_token, new_token

__all__ = ["ACCESS_ATTR", "RedactSecretsFilter", "agent", "api_key", "check_csrf_token", "csp_nonce", "csrf_exempt",
           "customer", "hash_token", "is_safe_next", "new_token", "portal_csrf_token", "public", "register_security",
           "request_is_same_origin", "safe_next", "staff"]


def register_security(app: Flask, form_action_origins: tuple[str, ...] = ()) -> None:
    """``form_action_origins``: where a form may send the browser besides this site (the payment
    backend's checkout page), passed by ``create_app``."""
    register_log_redaction(app)
    app.before_request(enforce_csrf)
    app.after_request(partial(set_security_headers, form_action=form_action(form_action_origins)))
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["csrf_token"] = portal_csrf_token
