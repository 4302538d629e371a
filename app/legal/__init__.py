"""Versioned legal documents (privacy policy, cookie policy, terms), their history, and notices of
significant changes."""

from flask import Blueprint

bp = Blueprint("legal", __name__)

from app.legal import routes  # noqa: E402,F401  (registers the views on bp)
