"""The metered API gateway (/api/v1), its OpenAPI document and the API documentation page."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import routes  # noqa: E402,F401  (registers the views on bp)
