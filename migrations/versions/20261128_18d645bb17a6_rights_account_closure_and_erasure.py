"""rights: account closure and erasure

When an account was closed (reopened by signing in within the grace period) and erased.

Revision ID: 18d645bb17a6
Revises: e1dff906ce4f
Create Date: 2026-11-28 23:15:06.688095

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '18d645bb17a6'
down_revision = 'e1dff906ce4f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_closed_at'), ['closed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_closed_at'))
        batch_op.drop_column('erased_at')
        batch_op.drop_column('closed_at')

