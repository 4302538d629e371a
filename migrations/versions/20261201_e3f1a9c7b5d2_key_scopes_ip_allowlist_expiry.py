"""API key controls: scopes, an IP allowlist and a chosen expiry with its reminder

Revision ID: e3f1a9c7b5d2
Revises: d8e4b2c6a1f7
Create Date: 2026-12-01 18:00:00

Four nullable columns on api_keys; every existing key keeps working as before (all endpoints,
from anywhere, no expiry).
"""
import sqlalchemy as sa
from alembic import op

revision = 'e3f1a9c7b5d2'
down_revision = 'd8e4b2c6a1f7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('allowed_ips', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('valid_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('expiry_notice_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('expiry_notice_at')
        batch_op.drop_column('valid_until')
        batch_op.drop_column('allowed_ips')
        batch_op.drop_column('scopes')
