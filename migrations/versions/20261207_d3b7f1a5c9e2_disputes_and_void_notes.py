"""Disputes on orders, and each order's charge id; void notes for credit notes whose refund failed

Revision ID: d3b7f1a5c9e2
Revises: f5c3a9e1d7b4
Create Date: 2026-12-07 17:10:00

A dispute is one row per Stripe dispute id, with the credits it holds. An order remembers its
charge id (a dispute may name only the charge); orders from before it get it from their next charge
event. Void notes are rows of ``invoices`` with kind ``void_note`` in their own number series
(``invoice_sequences`` kind ``void_note``): no schema change for them.

Data: an order whose refund failed before this revision kept the credit note of that refund, so
its credit notes add up to more than it refunded (a $10.71 invoice with $16.06 of credit notes).
Each such order gets what a failure issues from now on: its newest credit notes voided by void
notes until the excess is covered, and a new credit note for what they covered beyond it. No
document is changed; the credits were already given back when the refund failed. No mail is sent.
"""
import math
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

orders = sa.table('orders', sa.column('id', sa.Integer), sa.column('credits', sa.Integer),
                  sa.column('amount_cents', sa.Integer), sa.column('refunded_cents', sa.Integer))
invoices = sa.table(
    'invoices', *(sa.column(name, sa.Integer) for name in (
        'id', 'order_id', 'refers_to_id', 'net_cents', 'tax_cents', 'total_cents', 'credits')),
    *(sa.column(name, sa.String) for name in (
        'kind', 'number', 'currency', 'tax_rate', 'tax_treatment', 'seller', 'buyer_name', 'buyer_address',
        'buyer_country', 'buyer_tax_id', 'description', 'payment_method', 'locale')),
    sa.column('issued_at', sa.DateTime), sa.column('paid_at', sa.DateTime))
sequences = sa.table('invoice_sequences', sa.column('kind', sa.String), sa.column('year', sa.Integer),
                     sa.column('last', sa.Integer))
COPIED = ('currency', 'tax_rate', 'tax_treatment', 'seller', 'buyer_name', 'buyer_address', 'buyer_country',
          'buyer_tax_id', 'description', 'payment_method', 'paid_at', 'locale')


def _number(conn, kind: str, prefix: str, year: int) -> str:
    last = conn.execute(sa.select(sequences.c.last).where(sequences.c.kind == kind, sequences.c.year == year)).scalar()
    if last is None:
        last = 0
        conn.execute(sequences.insert().values(kind=kind, year=year, last=0))
    conn.execute(sequences.update().where(sequences.c.kind == kind, sequences.c.year == year).values(last=last + 1))
    return f"{prefix}-{year}-{last + 1:06d}"


def _void_excess_credit_notes(conn) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with_notes = sa.select(invoices.c.order_id).where(invoices.c.kind == 'credit_note')
    for order in conn.execute(sa.select(orders).where(orders.c.id.in_(with_notes))).mappings().all():
        docs = conn.execute(sa.select(invoices).where(invoices.c.order_id == order['id'])
                            .order_by(invoices.c.id)).mappings().all()
        notes = [d for d in docs if d['kind'] == 'credit_note']
        excess = sum(n['total_cents'] for n in notes) - (order['refunded_cents'] or 0)
        invoice = next((d for d in docs if d['kind'] == 'invoice'), None)
        if excess <= 0 or invoice is None:
            continue
        covered = credits = 0
        for note in reversed(notes):
            if covered >= excess:
                break
            conn.execute(invoices.insert().values(
                kind='void_note', number=_number(conn, 'void_note', 'CNV', now.year), order_id=order['id'],
                refers_to_id=note['id'], issued_at=now, net_cents=note['net_cents'], tax_cents=note['tax_cents'],
                total_cents=note['total_cents'], credits=note['credits'], **{k: note[k] for k in COPIED}))
            covered += note['total_cents']
            credits += note['credits']
        rest = covered - excess
        if rest > 0:
            tax = round(rest * invoice['tax_cents'] / invoice['total_cents']) if invoice['total_cents'] else 0
            share = math.ceil(order['credits'] * rest / order['amount_cents']) if order['amount_cents'] else 0
            conn.execute(invoices.insert().values(
                kind='credit_note', number=_number(conn, 'credit_note', 'CN', now.year), order_id=order['id'],
                refers_to_id=invoice['id'], issued_at=now, net_cents=rest - tax, tax_cents=tax, total_cents=rest,
                credits=min(share, credits), **{k: invoice[k] for k in COPIED}))

revision = 'd3b7f1a5c9e2'
down_revision = 'f5c3a9e1d7b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_charge_id'), ['charge_id'], unique=False)
    op.create_table(
        'disputes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispute_id', sa.String(length=255), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('charge_id', sa.String(length=255), nullable=True),
        sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('credits_held', sa.Integer(), nullable=False),
        sa.Column('disputed_at', sa.DateTime(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dispute_id'),
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_charge_id'), ['charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_status'), ['status'], unique=False)
    _void_excess_credit_notes(op.get_bind())


def downgrade():
    """The void notes stay: they are issued documents (kept for tax law like the others)."""
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_status'))
        batch_op.drop_index(batch_op.f('ix_disputes_order_id'))
        batch_op.drop_index(batch_op.f('ix_disputes_charge_id'))
    op.drop_table('disputes')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_charge_id'))
        batch_op.drop_column('charge_id')
