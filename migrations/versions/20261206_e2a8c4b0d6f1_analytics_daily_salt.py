"""A random salt per day for the analytics visitor hashes

Revision ID: e2a8c4b0d6f1
Revises: d1f7b3a9c5e4
Create Date: 2026-12-06 17:00:00

Visitor hashes were keyed with SECRET_KEY, which lasts, so a stored hash could be recomputed
from a visitor id. From now on each day has its own random salt, deleted when the day is over.
Hashes stored before stay until their retention period ends (ANALYTICS_VISITOR_DAYS).
"""
import sqlalchemy as sa
from alembic import op

revision = 'e2a8c4b0d6f1'
down_revision = 'd1f7b3a9c5e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'analytics_salts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('salt', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('day'),
    )


def downgrade():
    op.drop_table('analytics_salts')
