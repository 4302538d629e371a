"""Billing details, invoices and credit notes with their yearly number series, and the tax of an order

Revision ID: b8d4f0e2a6c9
Revises: a7c3e9d1f5b8
Create Date: 2026-12-06 14:30:00

Orders made before it keep amount_cents as the total with tax 0: they were sold without tax,
and get no invoice retroactively.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b8d4f0e2a6c9'
down_revision = 'a7c3e9d1f5b8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('buyer_address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('buyer_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('buyer_tax_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('tax_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tax_rate', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('tax_treatment', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('payment_method', sa.String(length=40), nullable=True))
    op.create_table(
        'billing_details',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('address', sa.Text(), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('tax_id', sa.String(length=40), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'invoice_sequences',
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'year'),
    )
    op.create_table(
        'invoices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('number', sa.String(length=30), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('refers_to_id', sa.Integer(), nullable=True),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('net_cents', sa.Integer(), nullable=False),
        sa.Column('tax_cents', sa.Integer(), nullable=False),
        sa.Column('total_cents', sa.Integer(), nullable=False),
        sa.Column('tax_rate', sa.String(length=8), nullable=True),
        sa.Column('tax_treatment', sa.String(length=20), nullable=False),
        sa.Column('seller', sa.Text(), nullable=False),
        sa.Column('buyer_name', sa.String(length=200), nullable=True),
        sa.Column('buyer_address', sa.Text(), nullable=True),
        sa.Column('buyer_country', sa.String(length=2), nullable=True),
        sa.Column('buyer_tax_id', sa.String(length=40), nullable=True),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('credits', sa.Integer(), nullable=False),
        sa.Column('payment_method', sa.String(length=40), nullable=True),
        sa.Column('paid_at', sa.DateTime(), nullable=True),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['refers_to_id'], ['invoices.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number'),
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_order_id'), ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_order_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_issued_at'))
    op.drop_table('invoices')
    op.drop_table('invoice_sequences')
    op.drop_table('billing_details')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('payment_method', 'tax_treatment', 'tax_rate', 'tax_cents', 'buyer_tax_id',
                       'buyer_country', 'buyer_address', 'buyer_name'):
            batch_op.drop_column(column)
