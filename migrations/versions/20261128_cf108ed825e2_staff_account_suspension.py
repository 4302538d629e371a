"""staff: account suspension

When staff suspended an account (no sign-in, no API calls until lifted).

Revision ID: cf108ed825e2
Revises: dba50bea8326
Create Date: 2026-11-28 23:33:02.600516

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cf108ed825e2'
down_revision = 'dba50bea8326'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('suspended_at')

