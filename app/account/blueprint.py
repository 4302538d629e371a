"""The account blueprint: the views in app/account/routes/ register on it."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from app.timeutil import utcnow

bp = Blueprint("account", __name__)


def no_store(response):
    """Pages with secrets (a 2FA key, recovery codes) are never kept by a browser or proxy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def recovery_codes_page(codes: list[str]):
    """The recovery codes, shown once (never stored in a cache), with their text-file download."""
    return no_store(current_app.make_response(render_template("account/recovery_codes.html", codes=codes,
                                                              now=utcnow())))
