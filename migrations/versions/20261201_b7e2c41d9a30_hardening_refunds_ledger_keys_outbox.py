"""hardening: refunds by id, ledger source keys, the charge's refunded watermark

- ``refunds``: one row per Stripe refund id (amount, status), so a refund counts once whatever
  event carries it, and a failed refund gives its credits back.
- ``credit_ledger.source_key``: unique; a purchase is credited once however many events say so.
- ``orders.charge_refunded_cents`` replaces ``orders.refund_ids`` (refund ids now have a table).
- ``users.minor_flagged_at``: staff learned the account is a minor's; sign-in and keys stop at once.
- ``users.low_credit_notified_at``: the last low-credit mail, so no more than one goes per window.
- ``outbox_messages.claimed_by`` / ``claimed_until``: a delivery runner's claim, so overlapping
  runs never send a message twice; ``ephemeral``: the row is deleted once delivered (the last
  message to an erased person's address). Bodies are now stored encrypted (same column type, Text);
  rows queued before this revision are plain text and are delivered by the old code path only if
  it still runs: drain the outbox (``flask mail send-queued``) before upgrading.

Revision ID: b7e2c41d9a30
Revises: a4fac330e43f
Create Date: 2026-12-01 09:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c41d9a30'
down_revision = 'a4fac330e43f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.String(length=255), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('refund_id', name=op.f('uq_refunds_refund_id'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=300), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_credit_ledger_source_key'), ['source_key'])

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge_refunded_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('refund_ids')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('charge_refunded_cents', server_default=None)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minor_flagged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('low_credit_notified_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ephemeral', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('low_credit_notified_at')
        batch_op.drop_column('minor_flagged_at')

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('ephemeral')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_ids', sa.Text(), nullable=False, server_default=''))
        batch_op.drop_column('charge_refunded_cents')

    with op.batch_alter_table('credit_ledger', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_credit_ledger_source_key'), type_='unique')
        batch_op.drop_column('source_key')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))

    op.drop_table('refunds')
