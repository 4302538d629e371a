"""Orders that end: when an order's checkout session stops taking payment

Revision ID: a7c3e9d1f5b8
Revises: f4a2c8e1b3d6
Create Date: 2026-12-06 14:00:00

One nullable column: orders made before it have no expiry (Stripe's own 24 hours applied to
them, and its checkout.session.expired event still closes them).
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c3e9d1f5b8'
down_revision = 'f4a2c8e1b3d6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
