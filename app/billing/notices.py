"""The e-mails that follow a payment, to the member who bought (else the organisation's owners),
each in their language: the receipt with its invoice, the
refund with its credit note, a refund that failed (with the void note that cancels its credit note),
a payment that failed. Queued in the transaction that records the
event, so they go once, when it commits. No request, no commit."""

from __future__ import annotations

from flask import current_app

from app.auth.models import User
from app.billing.models import Invoice, InvoiceKind, Order
from app.email import external_url, queue_email
from app.extensions import db
from app.organisations import services as organisations
from app.organisations.models import Organisation


def _recipients(order: Order) -> list[User]:
    """Who hears about an order: the member who placed it while still a member with an open
    account, else the organisation's owners; nobody when the organisation is gone."""
    if order.organisation_id is None:
        return []
    return organisations.key_contacts(order.organisation_id, order.placed_by_id)  # the same rule as a key's


def _organisation(order: Order) -> str | None:
    """The organisation's name for the mail (None for a personal one: "your account" says it)."""
    organisation = db.session.get(Organisation, order.organisation_id) if order.organisation_id else None
    return None if organisation is None or organisation.personal else organisation.display_name


def _links(order: Order, document: Invoice | None) -> dict:
    org = order.organisation_id
    links = {"order_url": external_url("billing.show_order", reference=order.reference, org=org),
             "organisation": _organisation(order)}
    if document is not None:
        links["document_url"] = external_url("billing.show_invoice", number=document.number, org=org)
        links["pdf_url"] = external_url("billing.download_invoice", number=document.number, org=org)
    return links


def _locale(user: User) -> str:
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def payment_received(order: Order, invoice: Invoice) -> None:
    """The receipt: what was bought, the amount with its tax, the invoice's number and links."""
    for user in _recipients(order):
        queue_email(user.email, "order_paid", _locale(user), reference=order.reference, pack_id=order.pack_id,
                    credits=order.credits, amount_cents=order.amount_cents, tax_cents=order.tax_cents,
                    currency=order.currency, number=invoice.number, **_links(order, invoice))


def refunded(order: Order, amount_cents: int, credits_taken: int, shortfall: int, note: Invoice | None) -> None:
    """A refund arrived: the amount, the credits taken back (and those already spent), the credit note."""
    for user in _recipients(order):
        queue_email(user.email, "order_refunded", _locale(user), reference=order.reference,
                    amount_cents=amount_cents, currency=order.currency, credits_taken=credits_taken,
                    shortfall=shortfall, number=note.number if note else None, **_links(order, note))


def refund_failed(order: Order, amount_cents: int, credits_back: int, documents: list[Invoice]) -> None:
    """A refund failed after its credit note was issued: the void notes that cancel it (and a new
    credit note for what is still refunded, if any), the credits back in the balance."""
    people = _recipients(order)
    if not people:
        return
    voids = [{"number": d.number, "url": external_url("billing.show_invoice", number=d.number,
                                                       org=order.organisation_id),
              "note": db.session.get(Invoice, d.refers_to_id).number}
             for d in documents if d.kind == InvoiceKind.VOID_NOTE]
    for user in people:
        queue_email(user.email, "refund_failed", _locale(user), reference=order.reference, amount_cents=amount_cents,
                    currency=order.currency, credits_back=credits_back, voids=voids, **_links(order, None))


def payment_failed(order: Order) -> None:
    """A payment that completes later (a bank or wallet payment) did not go through: no credits."""
    for user in _recipients(order):
        queue_email(user.email, "payment_failed", _locale(user), reference=order.reference,
                    amount_cents=order.amount_cents, currency=order.currency,
                    buy_url=external_url("account.show_dashboard", org=order.organisation_id) + "#buy",
                    **_links(order, None))
