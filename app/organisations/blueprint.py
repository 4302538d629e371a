"""The organisations blueprint: the views in app/organisations/routes/ register on it."""

from __future__ import annotations

from flask import Blueprint

from app.organisations import access

bp = Blueprint("organisations", __name__)


def init_app(app) -> None:
    """Every template can show the organisation worked in and switch to another."""
    app.context_processor(access.organisation_context)
    app.add_template_global(access.org_field)
