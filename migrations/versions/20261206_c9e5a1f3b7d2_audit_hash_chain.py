"""The audit log's hash chain (ASVS 5.0 16.4.2)

Revision ID: c9e5a1f3b7d2
Revises: b8d4f0e2a6c9
Create Date: 2026-12-06 15:00:00

Three nullable columns on audit_log and a one-row table for the chain's head. Entries written
before it stay unsealed; `flask audit verify` counts them and checks the chain from the first
sealed entry on.
"""
import sqlalchemy as sa
from alembic import op

revision = 'c9e5a1f3b7d2'
down_revision = 'b8d4f0e2a6c9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('target_seal', sa.String(length=64), nullable=True))
    op.create_table(
        'audit_chain',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade():
    op.drop_table('audit_chain')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('target_seal')
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
