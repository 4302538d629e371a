"""API keys: created, listed, rotated and revoked on /account/keys."""

from flask import Blueprint

bp = Blueprint("keys", __name__)

from app.keys import routes  # noqa: E402,F401  (registers the views on bp)
