"""Access transparency: staff accesses shown to the customer, and their e-mail opt-in

Revision ID: f3b9d5c1e7a2
Revises: e2a8c4b0d6f1
Create Date: 2026-12-06 17:30:00

A new table of staff accesses to a customer's personal data (role, category, reference, reason,
flagged when linked to nothing of theirs, reviewed by whom and when), and a boolean on users:
whether the customer is e-mailed at each access (off by default).
"""
import sqlalchemy as sa
from alembic import op

revision = 'f3b9d5c1e7a2'
down_revision = 'e2a8c4b0d6f1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_accesses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=True),
        sa.Column('reason', sa.String(length=300), nullable=True),
        sa.Column('flagged', sa.Boolean(), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('staff_accesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_accesses_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_accesses_flagged'), ['flagged'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_accesses_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_staff_access', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notify_staff_access')
    with op.batch_alter_table('staff_accesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_accesses_user_id'))
        batch_op.drop_index(batch_op.f('ix_staff_accesses_flagged'))
        batch_op.drop_index(batch_op.f('ix_staff_accesses_created_at'))
    op.drop_table('staff_accesses')
