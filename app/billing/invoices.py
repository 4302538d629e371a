"""Invoices, credit notes and void notes: numbered gap-free per series and year in the transaction that records
the payment (or the refund), with the seller's and the buyer's details copied as issued. No
request, no commit.

Numbers: ``INV-2026-000001`` for invoices, ``CN-2026-000001`` for credit notes, ``CNV-2026-000001``
for void notes (a credit note whose refund failed is cancelled by one, never edited). The series' row
is incremented in place (``UPDATE … RETURNING``): it holds a row lock on PostgreSQL and the write
lock on SQLite until the commit, so concurrent payments take consecutive numbers, and a payment
that rolls back gives its number back.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update

from app.billing.models import Invoice, InvoiceKind, InvoiceSequence, Order
from app.database import insert_once
from app.extensions import db

PREFIX = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN", InvoiceKind.VOID_NOTE: "CNV"}


def next_number(kind: InvoiceKind, year: int) -> str:
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
    invoice = Invoice(kind=InvoiceKind.INVOICE, number=next_number(InvoiceKind.INVOICE, now.year),
                      order_id=order.id, issued_at=now,
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
    note = Invoice(kind=InvoiceKind.CREDIT_NOTE, number=next_number(InvoiceKind.CREDIT_NOTE, now.year),
                   order_id=order.id,
                   refers_to_id=invoice.id, issued_at=now, currency=invoice.currency, net_cents=amount_cents - tax,
                   tax_cents=tax, total_cents=amount_cents, tax_rate=invoice.tax_rate,
                   tax_treatment=invoice.tax_treatment, seller=invoice.seller, buyer_name=invoice.buyer_name,
                   buyer_address=invoice.buyer_address, buyer_country=invoice.buyer_country,
                   buyer_tax_id=invoice.buyer_tax_id, description=invoice.description, credits=credits,
                   payment_method=invoice.payment_method, paid_at=invoice.paid_at, locale=invoice.locale)
    db.session.add(note)
    db.session.flush()
    return note


def void_credit(order: Order, amount_cents: int, credits_back: int, now: datetime) -> list[Invoice]:
    """A refund of ``amount_cents`` failed after its credit note was issued. Issued documents are
    never changed: the newest credit notes still standing are voided, each by a void note with its
    own number (``CNV-…``) that refers to it, until they cover the amount; what they covered beyond
    it is credited again by a new credit note. Afterwards the standing notes sum to what is
    refunded. ``credits_back``: the credits the failure gave back (or forgave). The documents issued."""
    if amount_cents <= 0:
        return []
    voided = set(voided_notes(order))
    standing = [d for d in documents_of(order) if d.kind == InvoiceKind.CREDIT_NOTE and d.id not in voided]
    issued: list[Invoice] = []
    covered = credits_covered = 0
    for note in reversed(standing):
        if covered >= amount_cents:
            break
        void = Invoice(kind=InvoiceKind.VOID_NOTE, number=next_number(InvoiceKind.VOID_NOTE, now.year),
                       order_id=order.id,
                       refers_to_id=note.id, issued_at=now, currency=note.currency, net_cents=note.net_cents,
                       tax_cents=note.tax_cents, total_cents=note.total_cents, tax_rate=note.tax_rate,
                       tax_treatment=note.tax_treatment, seller=note.seller, buyer_name=note.buyer_name,
                       buyer_address=note.buyer_address, buyer_country=note.buyer_country,
                       buyer_tax_id=note.buyer_tax_id, description=note.description, credits=note.credits,
                       payment_method=note.payment_method, paid_at=note.paid_at, locale=note.locale)
        db.session.add(void)
        issued.append(void)
        covered += note.total_cents
        credits_covered += note.credits
    db.session.flush()
    if covered > amount_cents:
        again = issue_credit_note(order, covered - amount_cents, max(0, credits_covered - credits_back), now)
        if again is not None:
            issued.append(again)
    return issued


def voided_notes(order: Order) -> dict[int, str]:
    """The order's voided credit notes: their id -> the number of the void note that cancels them."""
    return {refers: number for refers, number in db.session.execute(
        select(Invoice.refers_to_id, Invoice.number).where(Invoice.order_id == order.id,
                                                           Invoice.kind == InvoiceKind.VOID_NOTE))}


def net_credited(order: Order) -> int:
    """What the order's credit notes credit, less those voided: what was refunded."""
    total = 0
    for kind, cents in db.session.execute(select(Invoice.kind, Invoice.total_cents).where(
            Invoice.order_id == order.id, Invoice.kind.in_((InvoiceKind.CREDIT_NOTE, InvoiceKind.VOID_NOTE)))):
        total += cents if kind == InvoiceKind.CREDIT_NOTE else -cents
    return total


def invoice_of(order: Order) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(Invoice.order_id == order.id, Invoice.kind == InvoiceKind.INVOICE))


def documents_of(order: Order) -> list[Invoice]:
    """The order's invoice, then its credit notes and void notes, oldest first."""
    return list(db.session.scalars(select(Invoice).where(Invoice.order_id == order.id).order_by(Invoice.id)))


def find(number: str, organisation_id: int | None = None) -> Invoice | None:
    """An invoice or credit note by number; with ``organisation_id``, only one of that organisation's orders."""
    query = select(Invoice).join(Order, Order.id == Invoice.order_id).where(Invoice.number == number[:30])
    if organisation_id is not None:
        query = query.where(Order.organisation_id == organisation_id)
    return db.session.scalar(query)


def refers_to(note: Invoice) -> Invoice | None:
    return db.session.get(Invoice, note.refers_to_id) if note.refers_to_id else None


def order_of(document: Invoice) -> Order:
    return db.session.get(Order, document.order_id)
