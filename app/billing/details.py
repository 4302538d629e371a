"""An organisation's billing details (name, address, country, tax id) and the tax an order of its
pays: the order copies the details when it is made, so its invoice names the buyer as they were,
and the tax follows the country the buyer chose before paying, then the billing address the
payment provider confirms (``confirm``). No request, no commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from app.billing.models import BillingDetails, Order
from app.billing.tax import Tax, normalise_tax_id, parse_rates, tax_for, tax_within
from app.database import insert_once
from app.extensions import db
from app.organisations import events
from app.organisations.models import TeamAction


def of(organisation_id: int) -> BillingDetails | None:
    return db.session.get(BillingDetails, organisation_id)


def save(organisation_id: int, name: str, address: str, country: str, tax_id: str | None,
         now: datetime, actor=None) -> BillingDetails:
    """Store the details (the tax id in its compact form; raises tax.InvalidTaxId). One row an
    organisation, whoever saves first: concurrent first saves insert once and the others update."""
    country = country.upper()
    tax_id = normalise_tax_id(country, tax_id) if tax_id and tax_id.strip() else None
    values = {"name": name.strip(), "address": address.strip(), "country": country, "tax_id": tax_id,
              "updated_at": now}
    table = BillingDetails.__table__
    if not insert_once(table, organisation_id=organisation_id, **values):
        db.session.execute(update(table).where(table.c.organisation_id == organisation_id).values(**values))
    details = of(organisation_id)
    db.session.refresh(details)  # the statement above, not what the session had cached
    if actor is not None:
        events.record(organisation_id, actor, TeamAction.BILLING_DETAILS, now, target=f"{details.name}, {country}")
    return details


def tax_of(net_cents: int, country: str | None, tax_id: str | None, config) -> Tax:
    return tax_for(net_cents, country, tax_id, config["SELLER_COUNTRY"], parse_rates(config["TAX_RATES"]))


def apply_to_order(order: Order, organisation_id: int, config, country: str | None = None) -> None:
    """Copy the organisation's billing details to the order and price its tax: the order's amount is
    the pack's price plus the tax. ``country``, chosen before checkout, overrides the details':
    then their address and tax id (of another country) are not copied."""
    stored = of(organisation_id)
    country = (country or (stored.country if stored else None) or "").upper() or None
    if stored is not None:
        order.buyer_name = stored.name
        if stored.country == country:
            order.buyer_address, order.buyer_tax_id = stored.address, stored.tax_id
    order.buyer_country = country
    tax = tax_of(order.amount_cents, order.buyer_country, order.buyer_tax_id, config)
    order.tax_cents, order.amount_cents = tax.tax_cents, tax.total_cents
    order.tax_rate, order.tax_treatment = tax.rate_text, tax.treatment


def _text(value, limit: int) -> str:
    return str(value or "").strip()[:limit]


def confirm(order: Order, customer_details, config) -> None:
    """What the payment provider confirmed (Stripe Checkout's ``customer_details``: name, billing
    address, tax ids) decides the buyer's country and so the tax, before the invoice is issued
    (an issued invoice is never changed). A confirmed country other than the one the order was
    priced for re-prices it: the amount paid stays, and its tax is the one that country's rule puts
    in it. The address replaces the order's when the order had none or the country changed."""
    if not isinstance(customer_details, dict) or order.paid_at is not None:
        return
    address = customer_details.get("address") if isinstance(customer_details.get("address"), dict) else {}
    confirmed = _text(address.get("country"), 2).upper()
    if len(confirmed) != 2 or not confirmed.isalpha():
        confirmed = ""
    tax_ids = customer_details.get("tax_ids") if isinstance(customer_details.get("tax_ids"), list) else []
    values = [_text(t.get("value"), 40) for t in tax_ids if isinstance(t, dict) and t.get("value")]
    moved = bool(confirmed) and confirmed != (order.buyer_country or "")
    if moved or not order.buyer_address:
        lines = [address.get(k) for k in ("line1", "line2")] + [
            " ".join(str(address[k]) for k in ("postal_code", "city") if address.get(k)), address.get("state")]
        order.buyer_address = "\n".join(str(line) for line in lines if line)[:1000] or None
        order.buyer_name = _text(customer_details.get("name"), 200) or order.buyer_name
    if values or moved:
        order.buyer_tax_id = values[0] if values else None
    order.buyer_country = confirmed or order.buyer_country
    priced = tax_of(order.net_cents, order.buyer_country, order.buyer_tax_id, config)
    if priced.total_cents != order.amount_cents:
        priced = tax_within(order.amount_cents, order.buyer_country, order.buyer_tax_id, config["SELLER_COUNTRY"],
                            parse_rates(config["TAX_RATES"]))
    order.tax_cents, order.tax_rate, order.tax_treatment = priced.tax_cents, priced.rate_text, priced.treatment


def quote(organisation_id: int, net_cents: int, country: str | None, config) -> Tax | None:
    """The tax a buyer in ``country`` pays on ``net_cents``, with their tax id when their billing
    details (the organisation's) are for that country; None while the country is not known."""
    if not country:
        return None
    stored = of(organisation_id)
    tax_id = stored.tax_id if stored is not None and stored.country == country.upper() else None
    return tax_of(net_cents, country, tax_id, config)
