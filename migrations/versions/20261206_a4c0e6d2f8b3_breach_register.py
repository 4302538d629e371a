"""The personal-data breach register

Revision ID: a4c0e6d2f8b3
Revises: f3b9d5c1e7a2
Create Date: 2026-12-06 18:00:00

One table: each breach with its 72-hour clock's start (aware_at), its Art. 33(3) contents, its
stage and the authority notification (with the reasons for a delay).
"""
import sqlalchemy as sa
from alembic import op

revision = 'a4c0e6d2f8b3'
down_revision = 'f3b9d5c1e7a2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'breaches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('aware_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('nature', sa.Text(), nullable=True),
        sa.Column('data_categories', sa.String(length=500), nullable=True),
        sa.Column('scope', sa.String(length=40), nullable=True),
        sa.Column('people_affected', sa.Integer(), nullable=True),
        sa.Column('records_affected', sa.Integer(), nullable=True),
        sa.Column('contact', sa.String(length=300), nullable=True),
        sa.Column('consequences', sa.Text(), nullable=True),
        sa.Column('measures', sa.Text(), nullable=True),
        sa.Column('authority_notified_at', sa.DateTime(), nullable=True),
        sa.Column('authority_reference', sa.String(length=100), nullable=True),
        sa.Column('delay_reason', sa.Text(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
    )


def downgrade():
    op.drop_table('breaches')
