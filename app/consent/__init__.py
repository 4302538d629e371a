"""Cookie consent: the cookie registry, the banner, the settings page, proof of consent,
Global Privacy Control, and first-party page analytics that run only with consent."""

from flask import Blueprint

bp = Blueprint("consent", __name__)

from app.consent import routes  # noqa: E402,F401  (registers the views on bp)
