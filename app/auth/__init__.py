"""Accounts: registration, e-mail verification, sign-in, sessions, password reset, profile."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes, routes_account  # noqa: E402,F401  (register the views on bp)
