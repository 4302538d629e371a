"""The staff console's views, one module per job; they register on the blueprint, guarded by
``app.staff.blueprint`` (anonymous: sign in; customers: 403; staff without 2FA: how to turn it on)."""

from app.staff.blueprint import bp
from app.staff.routes import (  # noqa: F401
    agents,
    audit,
    breaches,
    customers,
    dashboard,
    inbox,
    orders,
    organisations,
    rights_requests,
    team,
)

__all__ = ["bp"]
