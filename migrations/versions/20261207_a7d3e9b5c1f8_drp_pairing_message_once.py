"""The Data Rights Protocol: a pairing message works once

Revision ID: a7d3e9b5c1f8
Revises: c6e2a8f4b0d5
Create Date: 2026-12-07 17:00:00

Each bearer token now keeps the hash of the signed pairing message it was given for, unique, so
the same message cannot pair twice. Tokens paired before keep no hash (NULL): their messages have
long expired, and a unique column allows any number of NULLs, so no existing data moves.
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7d3e9b5c1f8'
down_revision = 'c6e2a8f4b0d5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('drp_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_drp_tokens_message_hash'), ['message_hash'])


def downgrade():
    with op.batch_alter_table('drp_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_drp_tokens_message_hash'), type_='unique')
        batch_op.drop_column('message_hash')
