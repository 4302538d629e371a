"""Disputes on orders, and each order's charge id; void notes for credit notes whose refund failed

Revision ID: d3b7f1a5c9e2
Revises: c6e2a8f4b0d5
Create Date: 2026-12-07 17:10:00

A dispute is one row per Stripe dispute id, with the credits it holds. An order remembers its
charge id (a dispute may name only the charge); orders from before it get it from their next charge
event. Void notes are rows of ``invoices`` with kind ``void_note`` in their own number series
(``invoice_sequences`` kind ``void_note``): no schema change for them.
"""
import sqlalchemy as sa
from alembic import op

revision = 'd3b7f1a5c9e2'
down_revision = 'c6e2a8f4b0d5'
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


def downgrade():
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_status'))
        batch_op.drop_index(batch_op.f('ix_disputes_order_id'))
        batch_op.drop_index(batch_op.f('ix_disputes_charge_id'))
    op.drop_table('disputes')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_charge_id'))
        batch_op.drop_column('charge_id')
