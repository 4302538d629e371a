"""Accounts: registration, e-mail verification, sign-in, sessions, password reset, profile."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (registers the views on bp)
