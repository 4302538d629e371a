"""Accounts: registration, e-mail verification, sign-in, sessions, password reset, second factors
(the account pages themselves are in app.account)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (registers the views on bp)
