"""Billing's views, one module per job: checkout, the webhook and orders (``checkout.py``); usage
alerts and the spend limit (``alerts.py``); billing details and invoices (``invoices.py``)."""

from app.billing.blueprint import bp
from app.billing.routes import alerts, checkout, invoices  # noqa: F401

__all__ = ["bp"]
