"""API usage: the call log, daily roll-ups, the usage page and CSV exports."""

from flask import Blueprint

bp = Blueprint("usage", __name__)

from app.usage import routes  # noqa: E402,F401  (registers the views on bp)
