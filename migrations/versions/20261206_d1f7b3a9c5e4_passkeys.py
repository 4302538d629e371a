"""Passkeys (WebAuthn) and the answered passkey challenges

Revision ID: d1f7b3a9c5e4
Revises: c9e5a1f3b7d2
Create Date: 2026-12-06 16:00:00

Two new tables. A user's passkeys hang off the user (deleted with the account); an answered
challenge is kept only until shortly after it expires, to refuse a replayed answer.
"""
import sqlalchemy as sa
from alembic import op

revision = 'd1f7b3a9c5e4'
down_revision = 'c9e5a1f3b7d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'passkeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('user_handle', sa.LargeBinary(length=64), nullable=False),
        sa.Column('sign_count', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('aaguid', sa.String(length=36), nullable=True),
        sa.Column('transports', sa.String(length=100), nullable=True),
        sa.Column('backup_eligible', sa.Boolean(), nullable=False),
        sa.Column('backed_up', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('cloned_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('credential_id'),
    )
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkeys_user_id'), ['user_id'], unique=False)
    op.create_table(
        'passkey_challenges_used',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('challenge_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('challenge_hash'),
    )
    with op.batch_alter_table('passkey_challenges_used', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_challenges_used_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('passkey_challenges_used', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_challenges_used_expires_at'))
    op.drop_table('passkey_challenges_used')
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkeys_user_id'))
    op.drop_table('passkeys')
