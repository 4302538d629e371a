"""The staff console: every page needs a signed-in staff member with two-factor authentication."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from app.staff import routes, routes_customers, routes_requests  # noqa: E402,F401  (register the views on bp)
