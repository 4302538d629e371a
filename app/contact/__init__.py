"""The contact form and support threads (customers, visitors by signed link, staff inbox)."""

from flask import Blueprint

bp = Blueprint("contact", __name__)

from app.contact import routes  # noqa: E402,F401  (registers the views on bp)
