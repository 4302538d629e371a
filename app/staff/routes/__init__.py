"""The staff console's views, one module per job; they register on the blueprint, guarded by
``app.staff.blueprint`` (anonymous: sign in; customers: 403; staff without 2FA: how to turn it on)."""

from app.staff.blueprint import bp
from app.staff.routes import audit, breaches, customers, dashboard, inbox, orders, rights_requests, team  # noqa: F401

__all__ = ["bp"]
