"""Public pages: home, pricing, language choice, health check and security.txt."""

from flask import Blueprint

bp = Blueprint("pages", __name__)

from app.pages import routes  # noqa: E402,F401  (registers the views on bp)
