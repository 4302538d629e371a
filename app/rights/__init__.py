"""The privacy centre: data export, account closure and erasure (the rights of GDPR Art. 15-17)."""

from flask import Blueprint

bp = Blueprint("rights", __name__)

from app.rights import routes  # noqa: E402,F401  (registers the views on bp)
