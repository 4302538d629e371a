"""A customer's billing details (name, address, country, tax id) and the tax an order of theirs
pays: the order copies the details when it is made, so its invoice names the buyer as they were.
No request, no commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from app.billing.models import BillingDetails, Order
from app.billing.tax import Tax, normalise_tax_id, parse_rates, tax_for
from app.database import insert_once
from app.extensions import db


def of(user_id: int) -> BillingDetails | None:
    return db.session.get(BillingDetails, user_id)


def save(user_id: int, name: str, address: str, country: str, tax_id: str | None, now: datetime) -> BillingDetails:
    """Store the details (the tax id in its compact form; raises tax.InvalidTaxId). One row an
    account, whoever saves first: concurrent first saves insert once and the others update."""
    country = country.upper()
    tax_id = normalise_tax_id(country, tax_id) if tax_id and tax_id.strip() else None
    values = {"name": name.strip(), "address": address.strip(), "country": country, "tax_id": tax_id,
              "updated_at": now}
    table = BillingDetails.__table__
    if not insert_once(table, user_id=user_id, **values):
        db.session.execute(update(table).where(table.c.user_id == user_id).values(**values))
    details = of(user_id)
    db.session.refresh(details)  # the statement above, not what the session had cached
    return details


def tax_of(net_cents: int, country: str | None, tax_id: str | None, config) -> Tax:
    return tax_for(net_cents, country, tax_id, config["SELLER_COUNTRY"], parse_rates(config["TAX_RATES"]))


def apply_to_order(order: Order, user_id: int, config) -> None:
    """Copy the account's billing details to the order and price its tax: the order's amount is
    the pack's price plus the tax."""
    details = of(user_id)
    if details is not None:
        order.buyer_name, order.buyer_address = details.name, details.address
        order.buyer_country, order.buyer_tax_id = details.country, details.tax_id
    tax = tax_of(order.amount_cents, order.buyer_country, order.buyer_tax_id, config)
    order.tax_cents, order.amount_cents = tax.tax_cents, tax.total_cents
    order.tax_rate, order.tax_treatment = tax.rate_text, tax.treatment
