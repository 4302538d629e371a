"""Per-key credit caps, the monthly spend limit, usage alerts and their extra recipients

Revision ID: f4a2c8e1b3d6
Revises: e3f1a9c7b5d2
Create Date: 2026-12-06 13:00:00

Nullable columns only: every existing key and account keeps working as before (no cap, no spend
limit, the default alert thresholds). ``alert_recipients`` holds the other addresses a customer
confirmed for alerts.
"""
import sqlalchemy as sa
from alembic import op

revision = 'f4a2c8e1b3d6'
down_revision = 'e3f1a9c7b5d2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('daily_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('monthly_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cap_alert_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('cap_alert_month', sa.Date(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_thresholds', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('alert_levels', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('monthly_spend_limit', sa.Integer(), nullable=True))
    op.create_table(
        'alert_recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('verified_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
        sa.UniqueConstraint('user_id', 'email'),
    )
    with op.batch_alter_table('alert_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_recipients_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_recipients_user_id'))
    op.drop_table('alert_recipients')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('monthly_spend_limit')
        batch_op.drop_column('alert_levels')
        batch_op.drop_column('alert_thresholds')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('cap_alert_month')
        batch_op.drop_column('cap_alert_day')
        batch_op.drop_column('monthly_cap')
        batch_op.drop_column('daily_cap')
