"""The staff console's blueprint, shared by its view modules (routes, routes_customers,
routes_requests), which app.staff.routes gathers."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
