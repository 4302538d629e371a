"""The staff's view of billing: orders filtered by status, date and amount, their totals per month
and currency, and a CSV for accounting with invoice numbers and tax. No request, no commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from app.auth.models import User
from app.billing.amounts import in_units
from app.billing.models import Invoice, Order
from app.csvstream import csv_lines as lines
from app.extensions import db

BATCH = 500


@dataclass(frozen=True)
class OrderFilter:
    """Which orders: a reference or the buyer's e-mail (the member who placed it), a status, a
    creation date range (inclusive), an amount range in minor units (the total paid)."""

    query: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None
    min_cents: int | None = None
    max_cents: int | None = None

    def where(self) -> list:
        conditions = []
        if self.query:
            conditions.append(db.or_(Order.reference == self.query.upper(), User.email == self.query.lower()))
        if self.status:
            conditions.append(Order.status == self.status)
        if self.since:
            conditions.append(Order.created_at >= datetime.combine(self.since, time()))
        if self.until:
            conditions.append(Order.created_at < datetime.combine(self.until + timedelta(days=1), time()))
        if self.min_cents is not None:
            conditions.append(Order.amount_cents >= self.min_cents)
        if self.max_cents is not None:
            conditions.append(Order.amount_cents <= self.max_cents)
        return conditions


def _statement(f: OrderFilter):
    return (select(Order, User.email).outerjoin(User, User.id == Order.placed_by_id).where(*f.where())
            .order_by(Order.id.desc()))


def find_orders(f: OrderFilter, limit: int = 200) -> list:
    """(order, buyer e-mail) rows, newest first."""
    return db.session.execute(_statement(f).limit(limit)).all()


@dataclass
class MonthTotal:
    month: str
    currency: str
    orders: int = 0
    net_cents: int = 0
    tax_cents: int = 0
    total_cents: int = 0
    refunded_cents: int = 0


def monthly_totals(f: OrderFilter) -> list[MonthTotal]:
    """Paid orders (refunded ones included) by the month they were paid in and their currency,
    newest month first."""
    totals: dict[tuple[str, str], MonthTotal] = {}
    statement = (select(Order.paid_at, Order.currency, Order.tax_cents, Order.amount_cents,
                        Order.refunded_cents).outerjoin(User, User.id == Order.placed_by_id)
                 .where(*f.where(), Order.paid_at.is_not(None)))
    for paid_at, currency, tax, total, refunded in db.session.execute(statement):
        key = (f"{paid_at:%Y-%m}", currency)
        row = totals.setdefault(key, MonthTotal(*key))
        row.orders += 1
        row.net_cents += total - (tax or 0)
        row.tax_cents += tax or 0
        row.total_cents += total
        row.refunded_cents += refunded
    return sorted(totals.values(), key=lambda t: (t.month, t.currency), reverse=True)


def _units(cents: int | None, currency: str) -> str:
    return "" if cents is None else in_units(cents, currency)


HEADER = ["order", "created_at", "paid_at", "status", "customer_email", "buyer_name", "buyer_country",
          "buyer_tax_id", "currency", "net", "tax", "tax_rate", "tax_treatment", "total", "refunded", "invoice",
          "credit_notes", "payment_method", "void_notes"]


def csv_lines(f: OrderFilter) -> Iterator[str]:
    """The filtered orders as CSV lines for accounting (amounts in currency units), oldest first,
    read in batches. ``credit_notes`` lists every credit note issued; ``void_notes`` those that
    cancel one of them (a refund that failed), so the net credit is their difference."""
    return lines(HEADER, _csv_rows(f))


def _csv_rows(f: OrderFilter) -> Iterator[list]:
    last = 0
    while True:
        rows = db.session.execute(select(Order, User.email).outerjoin(User, User.id == Order.placed_by_id)
                                  .where(*f.where(), Order.id > last).order_by(Order.id).limit(BATCH)).all()
        if not rows:
            return
        documents = defaultdict(list)
        for number, kind, order_id in db.session.execute(select(Invoice.number, Invoice.kind, Invoice.order_id).where(
                Invoice.order_id.in_([order.id for order, _ in rows])).order_by(Invoice.id)):
            documents[(order_id, kind)].append(number)
        for order, email in rows:
            c = order.currency
            yield [order.reference, order.created_at.isoformat(timespec="seconds"),
                   order.paid_at.isoformat(timespec="seconds") if order.paid_at else "", order.status,
                   email or "", order.buyer_name or "", order.buyer_country or "", order.buyer_tax_id or "", c,
                   _units(order.net_cents, c),
                   _units(order.tax_cents or 0, c), order.tax_rate or "", order.tax_treatment or "",
                   _units(order.amount_cents, c), _units(order.refunded_cents, c),
                   " ".join(documents[(order.id, "invoice")]), " ".join(documents[(order.id, "credit_note")]),
                   order.payment_method or "", " ".join(documents[(order.id, "void_note")])]
        last = rows[-1][0].id
