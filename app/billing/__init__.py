"""Credits and payments: the credit ledger, credit packs bought through Stripe Checkout, orders."""

from flask import Blueprint

bp = Blueprint("billing", __name__)

from app.billing import routes  # noqa: E402,F401  (registers the views on bp)
