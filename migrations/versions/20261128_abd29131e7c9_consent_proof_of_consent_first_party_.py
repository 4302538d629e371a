"""consent: proof of consent, first-party analytics

One row per cookie decision (no IP, no user agent), daily page views per route, and daily
visitor hashes for unique-visitor counts.

Revision ID: abd29131e7c9
Revises: 450e91865cff
Create Date: 2026-11-28 22:35:32.631089

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'abd29131e7c9'
down_revision = '450e91865cff'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analytics_page_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('views', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_page_views')),
    sa.UniqueConstraint('day', 'path', name=op.f('uq_analytics_page_views_day'))
    )
    with op.batch_alter_table('analytics_page_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_page_views_day'), ['day'], unique=False)

    op.create_table('analytics_visitors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('visitor_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_visitors')),
    sa.UniqueConstraint('day', 'visitor_hash', name=op.f('uq_analytics_visitors_day'))
    )
    with op.batch_alter_table('analytics_visitors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_visitors_day'), ['day'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consent_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('categories', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('banner_hash', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consent_records_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_consent_id'), ['consent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_records_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_records_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_user_id'))
        batch_op.drop_index(batch_op.f('ix_consent_records_created_at'))
        batch_op.drop_index(batch_op.f('ix_consent_records_consent_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('analytics_visitors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_visitors_day'))

    op.drop_table('analytics_visitors')
    with op.batch_alter_table('analytics_page_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_page_views_day'))

    op.drop_table('analytics_page_views')
