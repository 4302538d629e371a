"""Separate consents (PIPL): transfer abroad and a guardian's, each its own event

Revision ID: b5d1f7e3a9c4
Revises: a4c0e6d2f8b3
Create Date: 2026-12-06 18:30:00

One table: a consent given apart from the terms, by a user who signed up in Chinese, with the
hash of the notice shown. Accounts made before this revision have none.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b5d1f7e3a9c4'
down_revision = 'a4c0e6d2f8b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'separate_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('given_at', sa.DateTime(), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('notice_sha256', sa.String(length=64), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('separate_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_separate_consents_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('separate_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_separate_consents_user_id'))
    op.drop_table('separate_consents')
