"""The billing blueprint: the views in app/billing/routes/ register on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("billing", __name__)
