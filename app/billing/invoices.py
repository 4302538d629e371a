"""Invoices and credit notes: numbered gap-free per series and year in the transaction that records
the payment (or the refund), with the seller's and the buyer's details copied as issued. No
request, no commit.

Numbers: ``INV-2026-000001`` for invoices, ``CN-2026-000001`` for credit notes. The series' row
is incremented in place (``UPDATE … RETURNING``): it holds a row lock on PostgreSQL and the write
lock on SQLite until the commit, so concurrent payments take consecutive numbers, and a payment
that rolls back gives its number back.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update

from app.billing.models import Invoice, InvoiceSequence, Order
from app.database import insert_once
from app.extensions import db

PREFIX = {"invoice": "INV", "credit_note": "CN"}


def next_number(kind: str, year: int) -> str:
    """The next number of the ``kind`` series in ``year``, taken in the current transaction."""
    table = InvoiceSequence.__table__
    for _ in range(2):
        row = db.session.execute(update(table).where(table.c.kind == kind, table.c.year == year)
                                 .values(last=table.c.last + 1).returning(table.c.last)).first()
        if row is not None:
            return f"{PREFIX[kind]}-{year}-{row[0]:06d}"
        insert_once(table, kind=kind, year=year, last=0)  # the year's first: a concurrent one may win
    raise RuntimeError(f"no {kind} series for {year}")  # pragma: no cover - the insert above makes it


def seller(config) -> dict:
    return {"name": config.get("SELLER_NAME") or f"{config['SITE_NAME']} (demo seller)",
            "address": config.get("SELLER_ADDRESS") or "1 Example Street\n10115 Berlin\nGermany",
            "country": config["SELLER_COUNTRY"], "tax_id": config.get("SELLER_TAX_ID") or "DE000000000",
            "email": config["SUPPORT_EMAIL"]}


def issue_invoice(order: Order, config, now: datetime, locale: str) -> Invoice:
    """The invoice of a paid order (once: a second call returns the first)."""
    existing = invoice_of(order)
    if existing is not None:
        return existing
    invoice = Invoice(kind="invoice", number=next_number("invoice", now.year), order_id=order.id, issued_at=now,
                      currency=order.currency, net_cents=order.net_cents,
                      tax_cents=order.tax_cents or 0, total_cents=order.amount_cents, tax_rate=order.tax_rate,
                      tax_treatment=order.tax_treatment or "none", seller=json.dumps(seller(config)),
                      buyer_name=order.buyer_name, buyer_address=order.buyer_address,
                      buyer_country=order.buyer_country, buyer_tax_id=order.buyer_tax_id,
                      description=f"{order.pack_name}: {order.credits} credits", credits=order.credits,
                      payment_method=order.payment_method, paid_at=order.paid_at, locale=locale)
    db.session.add(invoice)
    db.session.flush()
    return invoice


def issue_credit_note(order: Order, amount_cents: int, credits: int, now: datetime) -> Invoice | None:
    """A credit note for ``amount_cents`` refunded of the order's invoice, the tax split in the
    invoice's proportion; None when the order has no invoice (paid before invoices existed)."""
    invoice = invoice_of(order)
    if invoice is None or amount_cents <= 0:
        return None
    tax = round(amount_cents * invoice.tax_cents / invoice.total_cents) if invoice.total_cents else 0
    note = Invoice(kind="credit_note", number=next_number("credit_note", now.year), order_id=order.id,
                   refers_to_id=invoice.id, issued_at=now, currency=invoice.currency, net_cents=amount_cents - tax,
                   tax_cents=tax, total_cents=amount_cents, tax_rate=invoice.tax_rate,
                   tax_treatment=invoice.tax_treatment, seller=invoice.seller, buyer_name=invoice.buyer_name,
                   buyer_address=invoice.buyer_address, buyer_country=invoice.buyer_country,
                   buyer_tax_id=invoice.buyer_tax_id, description=invoice.description, credits=credits,
                   payment_method=invoice.payment_method, paid_at=invoice.paid_at, locale=invoice.locale)
    db.session.add(note)
    db.session.flush()
    return note


def invoice_of(order: Order) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == "invoice"))


def documents_of(order: Order) -> list[Invoice]:
    """The order's invoice, then its credit notes, oldest first."""
    return list(db.session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)))


def find(number: str, user_id: int | None = None) -> Invoice | None:
    """An invoice or credit note by number; with ``user_id``, only one of that customer's orders."""
    query = select(Invoice).join(Order, Order.id == Invoice.order_id).where(Invoice.number == number[:30])
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return db.session.scalar(query)


def refers_to(note: Invoice) -> Invoice | None:
    return db.session.get(Invoice, note.refers_to_id) if note.refers_to_id else None


def order_of(document: Invoice) -> Order:
    return db.session.get(Order, document.order_id)
