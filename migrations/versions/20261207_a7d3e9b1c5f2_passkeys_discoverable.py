"""Passkeys: whether each credential is discoverable (can sign in alone)

Revision ID: a7d3e9b1c5f2
Revises: d3b7f1a5c9e2
Create Date: 2026-12-07 17:00:00

Registration now asks for a resident key only where the authenticator can keep one, so a U2F
key or a FIDO2 key without room or a PIN can be added as the second factor. The new column
keeps what the browser's credProps extension reported (NULL when it did not say). Every passkey
added before this revision was made with a resident key required, so those are discoverable.
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7d3e9b1c5f2'
down_revision = 'd3b7f1a5c9e2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('passkeys') as batch_op:
        batch_op.add_column(sa.Column('discoverable', sa.Boolean(), nullable=True))
    op.execute(sa.text("UPDATE passkeys SET discoverable = :yes").bindparams(yes=True))


def downgrade():
    with op.batch_alter_table('passkeys') as batch_op:
        batch_op.drop_column('discoverable')
